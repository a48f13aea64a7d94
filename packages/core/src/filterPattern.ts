import { ConfigurationError } from './errors.js';

/**
 * One Lambda event filtering pattern, as JSON (the parsed `FilterCriteria.Filters[].Pattern`):
 * keys name fields of the record, leaves are rule lists.
 *
 * @example
 * { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: [{ prefix: 'paid' }] } } } }
 */
export type FilterPattern = { readonly [field: string]: unknown };

/**
 * Filters as a Lambda event source mapping takes them: the `FilterCriteria` object itself
 * (`{ Filters: [{ Pattern: '…' }] }`), or a list of patterns, each an object or its JSON
 * string. A record is kept when it matches at least one pattern (Lambda ORs the filters).
 */
export type FilterCriteriaInput =
  | { readonly Filters: readonly { readonly Pattern: string }[] }
  | readonly (FilterPattern | string)[];

/** A compiled pattern: whether a record (in its Lambda event JSON shape) matches. */
export type FilterPredicate = (input: unknown) => boolean;

/** Tests one field: whether it is there (a JSON null is there), and its value. */
type LeafTest = (present: boolean, value: unknown) => boolean;

const NUMERIC_OPERATORS = ['<', '<=', '=', '>', '>='] as const;
type NumericOperator = (typeof NUMERIC_OPERATORS)[number];

/**
 * Compiles one Lambda event filtering pattern into a predicate. The grammar is the one Lambda
 * documents for `FilterCriteria` (a subset of EventBridge's): every field of a pattern must match
 * (and), a rule list matches when one of its rules does (or), `$or` takes a list of patterns, and
 * a rule is one of:
 *
 * - a string, number or boolean: equals; `null`: the field is JSON null; `""`: the empty string
 * - `{ "equals-ignore-case": "x" }`, `{ "prefix": "x" }`, `{ "suffix": "x" }`
 * - `{ "anything-but": "x" | ["x", "y"] | { "prefix": "x" } | { "suffix": "x" } | { "equals-ignore-case": "x" } }`
 *   (the field must exist)
 * - `{ "numeric": [">", 0, "<=", 5] }` (one or two comparisons with `<`, `<=`, `=`, `>`, `>=`)
 * - `{ "exists": true | false }` (leaf fields only, as in Lambda)
 *
 * Where a record's field is a JSON array, the rule matches when it matches one element. One
 * deliberate difference: `numeric` also reads a string holding a decimal number, because
 * DynamoDB JSON carries numbers as strings (`{ "N": "5" }`) and a numeric rule on them is what
 * users of DynamoDB filters write.
 *
 * @throws ConfigurationError naming the path of the first malformed rule and how to write it.
 */
export function compileFilterPattern(pattern: FilterPattern | string): FilterPredicate {
  const parsed = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  if (!isPlainObject(parsed)) {
    throw new ConfigurationError(
      `A filter pattern must be a JSON object such as {"eventName": ["INSERT"]}, got ${describe(parsed)}.`,
    );
  }
  return compileObject(parsed, '');
}

/**
 * Compiles filters as a Lambda event source mapping takes them into one predicate that keeps a
 * record matching any of them. `undefined` when there are none (nothing is filtered).
 *
 * @throws ConfigurationError for a malformed pattern (see {@link compileFilterPattern}).
 */
export function compileFilterCriteria(
  criteria: FilterCriteriaInput | undefined,
): FilterPredicate | undefined {
  if (criteria === undefined) return undefined;
  let patterns: readonly (FilterPattern | string)[];
  if (Array.isArray(criteria)) patterns = criteria as readonly (FilterPattern | string)[];
  else if (isPlainObject(criteria) && Array.isArray((criteria as { Filters?: unknown }).Filters)) {
    patterns = (criteria as { Filters: readonly { Pattern: string }[] }).Filters.map((f, i) => {
      if (!isPlainObject(f) || typeof f.Pattern !== 'string') {
        throw new ConfigurationError(
          `FilterCriteria.Filters[${i}] must be {"Pattern": "<JSON string>"}, got ${describe(f)}.`,
        );
      }
      return f.Pattern;
    });
  } else {
    throw new ConfigurationError(
      `filters must be a FilterCriteria object ({"Filters": [{"Pattern": "…"}]}) or a list of patterns, got ${describe(criteria)}.`,
    );
  }
  if (patterns.length === 0) return undefined;
  const predicates = patterns.map((p) => compileFilterPattern(p));
  if (predicates.length === 1) return predicates[0];
  return (input) => {
    for (const predicate of predicates) if (predicate(input)) return true;
    return false;
  };
}

function parsePattern(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(
      `A filter pattern string must be JSON, as in FilterCriteria.Filters[].Pattern; ${(error as Error).message} in ${JSON.stringify(text)}.`,
    );
  }
}

/** A compiled pattern object over a value already known to be an object, or `undefined`. */
type ObjectTest = (value: Readonly<Record<string, unknown>> | undefined) => boolean;

function compileObject(pattern: Readonly<Record<string, unknown>>, path: string): FilterPredicate {
  const test = compileFields(pattern, path);
  return (input) => test(isPlainObject(input) ? input : undefined);
}

// The matcher runs for every record: indexed loops, one closure per field, the object check
// once per level and a single field's test returned as is (no wrapper).
function compileFields(pattern: Readonly<Record<string, unknown>>, path: string): ObjectTest {
  const tests: ObjectTest[] = [];
  for (const [key, rule] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(rule) || rule.length < 2 || !rule.every(isPlainObject)) {
        throw new ConfigurationError(
          `Filter pattern at "${at}": $or takes a list of two or more patterns, like {"$or": [{"a": ["x"]}, {"b": ["y"]}]}; got ${describe(rule)}.`,
        );
      }
      const branches = rule.map((branch, i) =>
        compileFields(branch as Record<string, unknown>, `${at}[${i}]`),
      );
      tests.push((value) => {
        for (let i = 0; i < branches.length; i++) if (branches[i]!(value)) return true;
        return false;
      });
    } else if (Array.isArray(rule)) {
      const leaf = compileRules(rule, at);
      tests.push((value) => {
        const field = value === undefined ? undefined : value[key];
        return leaf(field !== undefined, field);
      });
    } else if (isPlainObject(rule)) {
      const nested = compileFields(rule, at);
      tests.push((value) => {
        const field = value === undefined ? undefined : value[key];
        // A missing or non-object field leaves every nested field missing (`exists: false` matches).
        return nested(isPlainObject(field) ? field : undefined);
      });
    } else {
      throw new ConfigurationError(
        `Filter pattern at "${at}": a field takes a rule list (["value"], [{"prefix": "x"}]) or a nested pattern object; got ${describe(rule)}.`,
      );
    }
  }
  if (tests.length === 0) {
    throw new ConfigurationError(
      `Filter pattern${path ? ` at "${path}"` : ''} is empty; give at least one field, like {"eventName": ["INSERT"]}.`,
    );
  }
  if (tests.length === 1) return tests[0]!;
  return (value) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i]!(value)) return false;
    return true;
  };
}

/** A rule list: the field matches when one rule does (for an array field: one element). */
function compileRules(rules: readonly unknown[], path: string): LeafTest {
  if (rules.length === 0) {
    throw new ConfigurationError(
      `Filter pattern at "${path}": the rule list is empty; give at least one rule, like ["value"].`,
    );
  }
  const compiled = rules.map((rule, i) => compileRule(rule, `${path}[${i}]`));
  const onField = compiled.filter((c) => c.onField).map((c) => c.onField!);
  const onValue = compiled.filter((c) => c.onValue).map((c) => c.onValue!);
  return (present, value) => {
    for (let i = 0; i < onField.length; i++) if (onField[i]!(present, value)) return true;
    if (!present) return false;
    if (Array.isArray(value)) {
      for (let e = 0; e < value.length; e++) {
        for (let i = 0; i < onValue.length; i++) if (onValue[i]!(value[e])) return true;
      }
      return false;
    }
    for (let i = 0; i < onValue.length; i++) if (onValue[i]!(value)) return true;
    return false;
  };
}

/** A rule on the field as a whole (`exists`), or on each of its values. */
interface CompiledRule {
  readonly onField?: LeafTest;
  readonly onValue?: (value: unknown) => boolean;
}

function compileRule(rule: unknown, path: string): CompiledRule {
  if (rule === null) return { onValue: (v) => v === null };
  if (typeof rule === 'string' || typeof rule === 'boolean') return { onValue: (v) => v === rule };
  if (typeof rule === 'number') {
    assertFinite(rule, path);
    return { onValue: (v) => v === rule };
  }
  if (!isPlainObject(rule)) {
    throw new ConfigurationError(
      `Filter pattern at "${path}": a rule is a string, number, boolean, null or an operator object such as {"prefix": "x"}; got ${describe(rule)}.`,
    );
  }
  const keys = Object.keys(rule);
  if (keys.length !== 1) {
    throw new ConfigurationError(
      `Filter pattern at "${path}": an operator object has exactly one operator, got ${describe(rule)}; write two rules in the list to OR them.`,
    );
  }
  const operator = keys[0]!;
  const operand = rule[operator];
  switch (operator) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      return { onValue: stringTest(operator, operand, path) };
    case 'anything-but':
      return { onValue: anythingBut(operand, path) };
    case 'numeric':
      return { onValue: numeric(operand, path) };
    case 'exists':
      if (typeof operand !== 'boolean') {
        throw new ConfigurationError(
          `Filter pattern at "${path}": exists takes true or false, got ${describe(operand)}.`,
        );
      }
      // Leaf fields only, as Lambda documents: an object field does not "exist" for the rule.
      return {
        onField: operand
          ? (present, value) => present && !isPlainObject(value)
          : (present) => !present,
      };
    default:
      throw new ConfigurationError(
        `Filter pattern at "${path}": unknown operator ${JSON.stringify(operator)}; Lambda filters know prefix, suffix, equals-ignore-case, anything-but, numeric and exists.`,
      );
  }
}

function stringTest(
  operator: 'prefix' | 'suffix' | 'equals-ignore-case',
  operand: unknown,
  path: string,
): (value: unknown) => boolean {
  if (typeof operand !== 'string') {
    throw new ConfigurationError(
      `Filter pattern at "${path}": ${operator} takes a string, like {"${operator}": "abc"}; got ${describe(operand)}.`,
    );
  }
  switch (operator) {
    case 'prefix':
      return (v) => typeof v === 'string' && v.startsWith(operand);
    case 'suffix':
      return (v) => typeof v === 'string' && v.endsWith(operand);
    case 'equals-ignore-case': {
      const lower = operand.toLowerCase();
      return (v) => typeof v === 'string' && v.toLowerCase() === lower;
    }
  }
}

function anythingBut(operand: unknown, path: string): (value: unknown) => boolean {
  if (typeof operand === 'string' || typeof operand === 'number') {
    if (typeof operand === 'number') assertFinite(operand, path);
    return (v) => v !== operand;
  }
  if (Array.isArray(operand)) {
    if (
      operand.length === 0 ||
      !operand.every((o) => typeof o === 'string' || (typeof o === 'number' && Number.isFinite(o)))
    ) {
      throw new ConfigurationError(
        `Filter pattern at "${path}": anything-but takes a list of strings or numbers, like {"anything-but": ["a", "b"]}; got ${describe(operand)}.`,
      );
    }
    const excluded = new Set<unknown>(operand);
    return (v) => !excluded.has(v);
  }
  if (isPlainObject(operand) && Object.keys(operand).length === 1) {
    const [inner] = Object.keys(operand) as [string];
    if (inner === 'prefix' || inner === 'suffix' || inner === 'equals-ignore-case') {
      const test = stringTest(inner, operand[inner], `${path}.anything-but`);
      // Matches values that are not strings too, as EventBridge does.
      return (v) => !test(v);
    }
  }
  throw new ConfigurationError(
    `Filter pattern at "${path}": anything-but takes a value, a list, or one of {"prefix": "x"}, {"suffix": "x"}, {"equals-ignore-case": "x"}; got ${describe(operand)}.`,
  );
}

function numeric(operand: unknown, path: string): (value: unknown) => boolean {
  const valid =
    Array.isArray(operand) &&
    (operand.length === 2 || operand.length === 4) &&
    operand.every((o, i) =>
      i % 2 === 0
        ? NUMERIC_OPERATORS.includes(o as NumericOperator)
        : typeof o === 'number' && Number.isFinite(o),
    );
  if (!valid) {
    throw new ConfigurationError(
      `Filter pattern at "${path}": numeric takes one or two comparisons, like {"numeric": [">", 0, "<=", 5]} (operators <, <=, =, >, >=); got ${describe(operand)}.`,
    );
  }
  const pairs: [NumericOperator, number][] = [];
  for (let i = 0; i < operand.length; i += 2) pairs.push([operand[i], operand[i + 1]]);
  return (v) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? decimal(v) : Number.NaN;
    if (Number.isNaN(n)) return false;
    for (const [op, bound] of pairs) {
      if (!compare(n, op, bound)) return false;
    }
    return true;
  };
}

const DECIMAL = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A string's number when it is a plain decimal (DynamoDB JSON's `N`), else NaN. */
function decimal(value: string): number {
  return DECIMAL.test(value) ? Number(value) : Number.NaN;
}

function compare(n: number, op: NumericOperator, bound: number): boolean {
  switch (op) {
    case '<':
      return n < bound;
    case '<=':
      return n <= bound;
    case '=':
      return n === bound;
    case '>':
      return n > bound;
    case '>=':
      return n >= bound;
  }
}

function assertFinite(value: number, path: string): void {
  if (!Number.isFinite(value)) {
    throw new ConfigurationError(
      `Filter pattern at "${path}": numbers must be finite, got ${String(value)}.`,
    );
  }
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
