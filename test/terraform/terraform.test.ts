// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Terraform interpolations, compared as parsed
/**
 * The Terraform of the examples and of terraform/modules, checked without Terraform (not
 * installable here): every examples/<name>/terraform/*.tf and terraform/modules/<name>/*.tf is
 * parsed with HashiCorp's HCL parser (@cdktf/hcl2json) and checked against what the framework
 * does.
 *
 * - Every Lambda event source mapping lets nothing be skipped behind the framework's back:
 *   unbounded retries and record age, ReportBatchItemFailures, bisect, no on-failure destination;
 *   its function gets the framework's failure queue (the variable the recipes read) and may send
 *   to it. The recipes deploy their function through that module.
 * - The ECS service scales on the lag metric the worker writes (EMF_LAG_METRIC, from the code),
 *   with the application name of the task's SHARDLINE_APP as the dimension.
 * - Every reference (resource, data source, variable, local, module output) names something
 *   declared, and every module call gives the called module's variables and only those.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getReferencesInExpression, parse } from '@cdktf/hcl2json';
import { readSearchSyncConfig } from '@shardline/example-search-sync';
import { readTableReplicaConfig } from '@shardline/example-table-replica';
import { readVoteAggregationConfig } from '@shardline/example-vote-aggregation';
import { EMF_LAG_METRIC } from '@shardline/worker';
import { beforeAll, describe, expect, it } from 'vitest';

// biome-ignore lint/suspicious/noExplicitAny: parsed HCL is untyped JSON
type Json = any;

/** One Terraform root module: the merged blocks of a directory's .tf files. */
interface Module {
  readonly name: string;
  readonly dir: string;
  readonly module: Record<string, Json[]>;
  readonly resource: Record<string, Record<string, Json[]>>;
  readonly data: Record<string, Record<string, Json[]>>;
  readonly variable: Record<string, Json[]>;
  readonly locals: Record<string, Json>;
  readonly output: Record<string, Json[]>;
}

const EXAMPLES = resolve(import.meta.dirname, '../../examples');
const MODULES = resolve(import.meta.dirname, '../../terraform/modules');
const SAMPLE_QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/failures';

/** The recipes' config readers: the function environment must be one they accept. */
const CONFIG_READERS: Record<
  string,
  (env: NodeJS.ProcessEnv) => { readonly failureQueueUrl?: string }
> = {
  'vote-aggregation': readVoteAggregationConfig,
  'search-sync': readSearchSyncConfig,
  'table-replica': readTableReplicaConfig,
};

async function loadModule(dir: string, name: string): Promise<Module> {
  const module: Module = {
    name,
    dir,
    module: {},
    resource: {},
    data: {},
    variable: {},
    locals: {},
    output: {},
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
    const parsed = await parse(file, readFileSync(join(dir, file), 'utf8'));
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries(parsed[kind] ?? {})) {
        module[kind][type] ??= {};
        for (const [n, blocks] of Object.entries(byName as Record<string, Json[]>)) {
          if (module[kind][type][n]) throw new Error(`${name}: ${type}.${n} declared twice`);
          module[kind][type][n] = blocks;
        }
      }
    }
    for (const kind of ['variable', 'output', 'module'] as const) {
      for (const [n, blocks] of Object.entries(parsed[kind] ?? {})) {
        if (module[kind][n]) throw new Error(`${name}: ${kind} ${n} declared twice`);
        module[kind][n] = blocks as Json[];
      }
    }
    for (const block of (parsed.locals ?? []) as Json[]) Object.assign(module.locals, block);
  }
  return module;
}

/** Every string in a parsed value, but those of `lifecycle` blocks (attribute names there). */
function* strings(value: Json): Generator<string> {
  if (typeof value === 'string') yield value;
  else if (Array.isArray(value)) for (const v of value) yield* strings(v);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) if (k !== 'lifecycle') yield* strings(v);
}

/** The module a `module` block calls (a local path), if it was loaded. */
function calledModule(caller: Module, call: Json): Module | undefined {
  const dir = resolve(caller.dir, String(call.source));
  return modules.find((m) => m.dir === dir);
}

const META_ARGUMENTS = ['source', 'version', 'count', 'for_each', 'providers', 'depends_on'];

/** References that name nothing declared in the module, and module calls that do not fit. */
async function unresolvedReferences(module: Module): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, [call]] of Object.entries(module.module)) {
    const called = calledModule(module, call);
    if (!called) {
      problems.push(
        `${module.name}: module.${name} calls ${call.source}, which is not a module here`,
      );
      continue;
    }
    for (const argument of Object.keys(call).filter((a) => !META_ARGUMENTS.includes(a)))
      if (!(argument in called.variable))
        problems.push(
          `${module.name}: module.${name} sets ${argument}, not a variable of ${called.name}`,
        );
    for (const [variable, [block]] of Object.entries(called.variable))
      if (!('default' in block) && !(variable in call))
        problems.push(
          `${module.name}: module.${name} does not set ${variable}, which has no default`,
        );
  }
  // A variable's `type` (string, list(string)) is a type, not a reference.
  const variables = Object.values(module.variable).flatMap((blocks) =>
    blocks.map(({ type: _type, ...rest }) => rest),
  );
  const everything = [module.resource, module.data, variables, module.locals, module.output];
  for (const text of strings(everything)) {
    if (!text.includes('${')) continue;
    for (const { value } of await getReferencesInExpression('main.tf', text)) {
      const [head = '', second = '', third = ''] = value.split('.');
      const found =
        head === 'var'
          ? second in module.variable
          : head === 'local'
            ? second in module.locals
            : head === 'data'
              ? Boolean(module.data[second]?.[third])
              : head === 'module'
                ? Boolean(module.module[second]) &&
                  third in (calledModule(module, module.module[second]?.[0])?.output ?? {})
                : ['each', 'count', 'self', 'path', 'terraform'].includes(head) ||
                  Boolean(module.resource[head]?.[second]);
      if (!found) problems.push(`${module.name}: ${value} is not declared`);
    }
  }
  return problems;
}

/** `${aws_x.name.attr}` → ['aws_x', 'name', 'attr'], or undefined for anything else. */
function referenceOf(expression: unknown): string[] | undefined {
  const match = typeof expression === 'string' && /^\$\{([a-z0-9_.]+)\}$/.exec(expression);
  return match ? (match[1] as string).split('.') : undefined;
}

/** The single block of a resource named by a reference such as `${aws_iam_role.x.arn}`. */
function resourceOf(module: Module, expression: unknown): [string, string, Json] | undefined {
  const ref = referenceOf(expression);
  if (!ref || ref.length < 2) return undefined;
  const [type, name] = ref as [string, string];
  const block = module.resource[type]?.[name]?.[0];
  return block ? [type, name, block] : undefined;
}

/** The IAM statements a role is given through aws_iam_role_policy + aws_iam_policy_document. */
function statementsOfRole(module: Module, roleName: string): Json[] {
  const out: Json[] = [];
  for (const [policy] of Object.values(module.resource.aws_iam_role_policy ?? {})) {
    const role = referenceOf(policy?.role);
    if (role?.[0] !== 'aws_iam_role' || role[1] !== roleName) continue;
    const document = referenceOf(policy.policy);
    if (document?.[0] !== 'data' || document[1] !== 'aws_iam_policy_document') continue;
    out.push(
      ...(module.data.aws_iam_policy_document?.[document[2] as string]?.[0]?.statement ?? []),
    );
  }
  return out;
}

function allows(statements: Json[], action: string, resource: string): boolean {
  return statements.some(
    (s) =>
      (s.effect ?? 'Allow') === 'Allow' &&
      (s.actions as string[]).includes(action) &&
      (s.resources as string[]).includes(resource),
  );
}

/**
 * What is wrong with the module's event source mappings, as the framework sees it: Lambda must
 * never skip a batch (the handler parks what it cannot apply, whole, in the failure queue).
 */
function mappingProblems(module: Module): string[] {
  const problems: string[] = [];
  for (const [name, [mapping]] of Object.entries(
    module.resource.aws_lambda_event_source_mapping ?? {},
  )) {
    const at = `${module.name}: aws_lambda_event_source_mapping.${name}`;
    // Explicit -1: an absent attribute is the API's default (-1) on create only; the provider
    // keeps whatever an existing mapping has (e.g. a former 10) when it is removed.
    if (mapping.maximum_retry_attempts !== -1)
      problems.push(`${at}: maximum_retry_attempts is ${mapping.maximum_retry_attempts}, not -1`);
    if (mapping.maximum_record_age_in_seconds !== -1)
      problems.push(
        `${at}: maximum_record_age_in_seconds is ${mapping.maximum_record_age_in_seconds}, not -1`,
      );
    if (!(mapping.function_response_types ?? []).includes('ReportBatchItemFailures'))
      problems.push(`${at}: function_response_types lacks ReportBatchItemFailures`);
    if (mapping.bisect_batch_on_function_error !== true)
      problems.push(`${at}: bisect_batch_on_function_error is not true`);
    for (const config of mapping.destination_config ?? [])
      if (config.on_failure) problems.push(`${at}: has an on_failure destination`);
    if (mapping.tumbling_window_in_seconds !== undefined)
      problems.push(`${at}: a tumbling window needs a windowHandler, which the recipes do not use`);

    const fn = resourceOf(module, mapping.function_name);
    if (fn?.[0] !== 'aws_lambda_function') {
      problems.push(`${at}: function_name is not a function of this module`);
      continue;
    }
    const [, fnName, lambda] = fn;
    const variables = frameworkEnvironment(module, lambda);
    const queue = resourceOf(module, variables.FAILURE_QUEUE_URL);
    if (queue?.[0] !== 'aws_sqs_queue' || referenceOf(variables.FAILURE_QUEUE_URL)?.[2] !== 'url') {
      problems.push(
        `${at}: aws_lambda_function.${fnName} has no FAILURE_QUEUE_URL = a queue's url`,
      );
      continue;
    }
    const role = referenceOf(lambda.role);
    const statements =
      role?.[0] === 'aws_iam_role' ? statementsOfRole(module, role[1] as string) : [];
    if (!allows(statements, 'sqs:SendMessage', `\${aws_sqs_queue.${queue[1]}.arn}`))
      problems.push(
        `${at}: the function's role may not sqs:SendMessage to aws_sqs_queue.${queue[1]}`,
      );
    for (const action of [
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:DescribeStream',
    ])
      if (!allows(statements, action, mapping.event_source_arn))
        problems.push(
          `${at}: the function's role may not ${action} on ${mapping.event_source_arn}`,
        );
  }
  return problems;
}

/**
 * The variables a function gets from its own module: a map, or
 * `merge(var.environment, local.<name>)` (the caller's variables, then the module's own).
 */
function frameworkEnvironment(module: Module, lambda: Json): Record<string, string> {
  const variables = lambda.environment?.[0]?.variables ?? {};
  if (typeof variables !== 'string') return variables;
  const merged = /^\$\{merge\(var\.environment, local\.([a-z_]+)\)\}$/.exec(variables);
  return merged ? (module.locals[merged[1] as string] ?? {}) : {};
}

/** The function's environment as the recipe would see it: references replaced by values. */
function environmentOf(module: Module, variables: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, expression] of Object.entries(variables)) {
    const ref = referenceOf(expression);
    if (!ref) env[key] = expression;
    else if ((ref[0] === 'aws_sqs_queue' && ref[2] === 'url') || ref[2] === 'failure_queue_url')
      env[key] = SAMPLE_QUEUE_URL;
    else if (ref[0] === 'var')
      env[key] = module.variable[ref[1] as string]?.[0]?.default ?? 'https://search.example.com';
    else env[key] = resourceOf(module, expression)?.[2]?.[ref[2] as string];
  }
  return env;
}

let modules: Module[];

beforeAll(async () => {
  modules = [];
  for (const entry of readdirSync(EXAMPLES, { withFileTypes: true })) {
    const dir = join(EXAMPLES, entry.name, 'terraform');
    if (entry.isDirectory() && readdirSync(join(EXAMPLES, entry.name)).includes('terraform'))
      modules.push(await loadModule(dir, entry.name));
  }
  for (const entry of readdirSync(MODULES, { withFileTypes: true }))
    if (entry.isDirectory())
      modules.push(await loadModule(join(MODULES, entry.name), `modules/${entry.name}`));
});

describe('examples/*/terraform', () => {
  it('parses every example module', () => {
    expect(modules.map((m) => m.name).sort()).toEqual([
      'ecs-consumer',
      'modules/dynamodb-stream-lambda',
      'search-sync',
      'table-replica',
      'vote-aggregation',
    ]);
  });

  it('declares everything it references', async () => {
    for (const module of modules) expect(await unresolvedReferences(module)).toEqual([]);
  });

  it('the reference check finds a reference to nothing', async () => {
    // arrange: a module whose policy names a misspelt queue and an undeclared variable
    const module = await loadModuleFromText(`
      variable "app" { type = string }
      resource "aws_sqs_queue" "failures" { name = "\${var.app}-failures" }
      resource "aws_iam_role_policy" "p" {
        role   = aws_iam_role.r.id
        policy = var.nope
      }
      data "aws_region" "current" {}
      locals {
        region = data.aws_region.current.name
        zone   = data.aws_zone.x.id
      }
      output "q" { value = aws_sqs_queue.failure.url }
      module "m" { source = "./nowhere" }
    `);
    // act
    const problems = await unresolvedReferences(module);
    // assert
    expect(problems.sort()).toEqual([
      'text: aws_iam_role.r.id is not declared',
      'text: aws_sqs_queue.failure.url is not declared',
      'text: data.aws_zone.x.id is not declared',
      'text: module.m calls ./nowhere, which is not a module here',
      'text: var.nope is not declared',
    ]);
  });
});

describe('Lambda event source mappings', () => {
  it('never let Lambda skip a batch, and give the function the framework failure queue', () => {
    const withMappings = modules.filter((m) => m.resource.aws_lambda_event_source_mapping);
    expect(withMappings.map((m) => m.name)).toEqual(['modules/dynamodb-stream-lambda']);
    for (const module of modules) expect(mappingProblems(module)).toEqual([]);
  });

  it('are how both recipes deploy their function, with variables the recipe accepts', () => {
    for (const name of Object.keys(CONFIG_READERS)) {
      // arrange: the recipe's call of the module, and what the module adds
      const recipe = modules.find((m) => m.name === name) as Module;
      const calls = Object.values(recipe.module).map(([call]) => call);
      const call = calls.find(
        (c) => calledModule(recipe, c)?.resource.aws_lambda_event_source_mapping,
      );
      if (!call) throw new Error(`${name} does not deploy its function through the module`);
      const called = calledModule(recipe, call) as Module;
      const lambda = Object.values(called.resource.aws_lambda_function ?? {})[0]?.[0];
      const env = {
        ...environmentOf(recipe, call.environment),
        ...environmentOf(called, frameworkEnvironment(called, lambda)),
      };
      // act
      const config = (
        CONFIG_READERS[name] as (e: NodeJS.ProcessEnv) => { failureQueueUrl?: string }
      )(env);
      // assert: the recipe reads the queue the module sets, and the tables the Terraform names
      expect(config.failureQueueUrl).toBe(SAMPLE_QUEUE_URL);
      expect(Object.values(env).every((v) => typeof v === 'string' && v.length > 0)).toBe(true);
    }
  });

  it('the check fails on the old mapping: ten retries and a metadata-only SQS on-failure queue', async () => {
    // arrange: the module's mapping as the recipes had it
    const text = readFileSync(join(MODULES, 'dynamodb-stream-lambda/main.tf'), 'utf8')
      .replace('maximum_retry_attempts             = -1', 'maximum_retry_attempts             = 10')
      .replace(
        'maximum_record_age_in_seconds      = -1',
        `maximum_record_age_in_seconds      = 86400
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }`,
      );
    const module = await loadModuleFromText(text);
    // act
    const problems = mappingProblems(module);
    // assert
    expect(problems).toEqual([
      'text: aws_lambda_event_source_mapping.stream: maximum_retry_attempts is 10, not -1',
      'text: aws_lambda_event_source_mapping.stream: maximum_record_age_in_seconds is 86400, not -1',
      'text: aws_lambda_event_source_mapping.stream: has an on_failure destination',
    ]);
  });
});

describe('table-replica', () => {
  const recipe = () => modules.find((m) => m.name === 'table-replica') as Module;

  it('lets the sinks write the copy, the derived table and their state tables, and nothing else', () => {
    // arrange
    const module = recipe();
    const call = module.module.lambda?.[0];
    const document = referenceOf(call?.sink_policy_json);
    const statements: Json[] =
      module.data.aws_iam_policy_document?.[document?.[2] as string]?.[0]?.statement ?? [];
    const targets = [
      'users_replica',
      'users_replica_state',
      'active_users_by_country',
      'active_users_by_country_state',
    ].map((name) => `\${aws_dynamodb_table.${name}.arn}`);

    // act
    const actions = new Set(statements.flatMap((s) => s.actions as string[]));
    const resources = new Set(statements.flatMap((s) => s.resources as string[]));

    // assert: what TransactWriteItems (Put, Delete, ConditionCheck) and the state read need
    expect(document?.[0]).toBe('data');
    expect([...actions].sort()).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
    ]);
    expect([...resources].sort()).toEqual([...targets].sort());
    for (const action of actions)
      for (const target of targets) expect(allows(statements, action, target)).toBe(true);
  });

  it('expires tombstones: TTL on expiresAt on both state tables', () => {
    for (const name of ['users_replica_state', 'active_users_by_country_state']) {
      const table = recipe().resource.aws_dynamodb_table?.[name]?.[0];
      expect(table?.ttl?.[0]).toEqual({ attribute_name: 'expiresAt', enabled: true });
    }
  });
});

describe('ECS service of the ecs-consumer example', () => {
  const ecs = () => modules.find((m) => m.name === 'ecs-consumer') as Module;

  it('runs the worker with SHARDLINE_APP, the HTTP server on all interfaces, and a stop timeout above the shutdown budget', () => {
    const module = ecs();
    const [task] = Object.values(module.resource.aws_ecs_task_definition ?? {}).map(([t]) => t);
    expect(task?.container_definitions).toBe('${jsonencode([local.consumer_container])}');
    const container = module.locals.consumer_container;
    const env = Object.fromEntries(
      (container.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]),
    );
    expect(env.SHARDLINE_APP).toBe('${var.app}');
    expect(env.SHARDLINE_HTTP_HOST).toBe('0.0.0.0');
    expect(env.SHARDLINE_EMF_LAG_INTERVAL_MS).toMatch(/^[1-9]\d*$/);
    expect(env.SHARDLINE_SHUTDOWN_TIMEOUT_MS).toBe('${tostring(var.shutdown_timeout_ms)}');
    expect(container.stopTimeout).toBe('${ceil(var.shutdown_timeout_ms / 1000) + 5}');
    expect(container.logConfiguration.logDriver).toBe('awslogs');
    const group = resourceOf(module, container.logConfiguration.options['awslogs-group']);
    expect(group?.[0]).toBe('aws_cloudwatch_log_group');
    expect(group?.[2].retention_in_days).toBeDefined();
    // the task role reads the stream and owns the lease table
    const role = referenceOf(task?.task_role_arn);
    const statements = statementsOfRole(module, role?.[1] as string);
    expect(
      allows(statements, 'dynamodb:GetRecords', '${aws_dynamodb_table.orders.stream_arn}'),
    ).toBe(true);
    expect(allows(statements, 'dynamodb:UpdateItem', '${aws_dynamodb_table.leases.arn}')).toBe(
      true,
    );
    expect(allows(statements, 'dynamodb:PutItem', '${aws_dynamodb_table.audit.arn}')).toBe(true);
  });

  it('scales the service on the lag metric the worker writes, never below one task', () => {
    // arrange
    const module = ecs();
    const targets = Object.values(module.resource.aws_appautoscaling_target ?? {}).map(([t]) => t);
    const policies = Object.values(module.resource.aws_appautoscaling_policy ?? {}).map(([p]) => p);
    // assert: a target on the service's desired count, at least one task
    expect(targets).toHaveLength(1);
    const [target] = targets;
    expect(target.scalable_dimension).toBe('ecs:service:DesiredCount');
    expect(target.resource_id).toContain('${aws_ecs_service.consumer.name}');
    expect(target.min_capacity).toBe('${var.min_tasks}');
    expect(module.variable.min_tasks?.[0]?.default).toBeGreaterThanOrEqual(1);
    expect(module.variable.min_tasks?.[0]?.validation?.[0]?.condition).toBe(
      '${var.min_tasks >= 1}',
    );
    // a policy on that target whose metric is EMF_LAG_METRIC for this application
    expect(policies).toHaveLength(1);
    const [policy] = policies;
    expect(policy.resource_id).toMatch(/^\$\{aws_appautoscaling_target\.[a-z_]+\.resource_id\}$/);
    const tracking = policy.target_tracking_scaling_policy_configuration[0];
    const metric = tracking.customized_metric_specification[0];
    expect(metric.namespace).toBe(EMF_LAG_METRIC.namespace);
    expect(metric.metric_name).toBe(EMF_LAG_METRIC.metricName);
    expect(metric.unit).toBe(EMF_LAG_METRIC.unit);
    expect(metric.statistic).toBe('Maximum');
    const app = module.locals.consumer_container.environment.find(
      (e: { name: string }) => e.name === 'SHARDLINE_APP',
    ).value;
    expect(metric.dimensions).toEqual([{ name: EMF_LAG_METRIC.dimension, value: app }]);
    expect(tracking.scale_in_cooldown).toBeGreaterThan(tracking.scale_out_cooldown);
  });
});

async function loadModuleFromText(text: string): Promise<Module> {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'shardline-tf-'));
  try {
    writeFileSync(join(dir, 'main.tf'), text);
    return await loadModule(dir, 'text');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
