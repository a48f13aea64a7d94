/** Where the CLI writes: a stream with an optional TTY flag (process.stdout satisfies it). */
export interface OutputStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of {@link Output}. */
export interface OutputOptions {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Machine-readable output: one JSON document (or one per line for streams) on stdout. */
  readonly json: boolean;
  /** The environment, for NO_COLOR / FORCE_COLOR. */
  readonly env?: NodeJS.ProcessEnv;
}

const COLORS = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;
/** A colour or style the CLI uses. */
export type Color = keyof typeof COLORS;

/** One column of {@link Output.table}. */
export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => string;
  readonly align?: 'left' | 'right';
  readonly color?: (row: Row) => Color | undefined;
}

/**
 * Everything the CLI prints goes through here, so the rules hold for every command: results on
 * stdout, progress and errors on stderr; colour only when the stream is a TTY (and NO_COLOR is
 * unset); with `--json`, stdout carries JSON only, so `| jq` always works.
 */
export class Output {
  readonly json: boolean;
  readonly #stdout: OutputStream;
  readonly #stderr: OutputStream;
  readonly #color: boolean;
  readonly #progressEnabled: boolean;
  #progressShown = false;

  constructor(options: OutputOptions) {
    const env = options.env ?? process.env;
    this.json = options.json;
    this.#stdout = options.stdout;
    this.#stderr = options.stderr;
    const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0';
    this.#color = !this.json && env.NO_COLOR === undefined && (forced || !!options.stdout.isTTY);
    this.#progressEnabled = !!options.stderr.isTTY;
  }

  /** Whether colour is on (stdout is a TTY, or FORCE_COLOR). */
  get color(): boolean {
    return this.#color;
  }

  /** Paints `text` when colour is on. */
  paint(color: Color, text: string): string {
    if (!this.#color) return text;
    const [open, close] = COLORS[color];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  /** Writes one line of human output (ignored under `--json`). */
  line(text = ''): void {
    if (this.json) return;
    this.#clearProgress();
    this.#stdout.write(`${text}\n`);
  }

  /** Writes a JSON document (one line) on stdout; only under `--json`. */
  jsonLine(value: unknown): void {
    if (!this.json) return;
    this.#stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`);
  }

  /** Writes the result of a command: JSON under `--json`, else whatever `human` prints. */
  result(value: unknown, human: () => void): void {
    if (this.json) this.jsonLine(value);
    else human();
  }

  /** Renders rows as an aligned table. */
  table<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): void {
    if (this.json) return;
    const cells = rows.map((row) => columns.map((c) => c.value(row)));
    const widths = columns.map((c, i) =>
      Math.max(visibleLength(c.header), ...cells.map((r) => visibleLength(r[i]!))),
    );
    const render = (values: readonly string[], paint: (i: number, text: string) => string) =>
      values
        .map((v, i) => {
          const pad = ' '.repeat(widths[i]! - visibleLength(v));
          const padded = columns[i]!.align === 'right' ? pad + v : v + pad;
          return paint(i, padded);
        })
        .join('  ')
        .trimEnd();
    this.line(
      render(
        columns.map((c) => c.header),
        (_, text) => this.paint('bold', text),
      ),
    );
    rows.forEach((row, r) => {
      this.line(
        render(cells[r]!, (i, text) => {
          const color = columns[i]!.color?.(row);
          return color ? this.paint(color, text) : text;
        }),
      );
    });
  }

  /** A transient status line on stderr (TTY only; never under `--json` on stdout). */
  progress(text: string): void {
    if (!this.#progressEnabled) return;
    this.#stderr.write(`\r\u001b[2K${text}`);
    this.#progressShown = true;
  }

  /** A note on stderr (warnings, "press Ctrl-C to stop"), never mixed into stdout results. */
  note(text: string): void {
    this.#clearProgress();
    this.#stderr.write(`${text}\n`);
  }

  /** Reports an error on stderr: the message, then the fix. */
  error(message: string, hint?: string): void {
    this.#clearProgress();
    if (this.json) {
      this.#stderr.write(`${JSON.stringify({ error: message, ...(hint ? { hint } : {}) })}\n`);
      return;
    }
    this.#stderr.write(`${this.#paintErr('red', 'error:')} ${message}\n`);
    if (hint) this.#stderr.write(`${this.#paintErr('yellow', 'fix:')}   ${hint}\n`);
  }

  /** Ends a progress line so the next output starts clean. */
  #clearProgress(): void {
    if (!this.#progressShown) return;
    this.#stderr.write('\r\u001b[2K');
    this.#progressShown = false;
  }

  #paintErr(color: Color, text: string): string {
    if (!this.#stderr.isTTY) return text;
    const [open, close] = COLORS[color];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure width.
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, '').length;
}

/** JSON.stringify replacer: bigints as strings, Sets as arrays, Dates as ISO strings. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  // @aws-sdk/util-dynamodb's NumberValue: a number too precise for a double, kept as its text.
  if (value !== null && typeof value === 'object' && value.constructor?.name === 'NumberValue')
    return String(value);
  return value;
}
