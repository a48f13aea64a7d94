/**
 * A small benchmark harness: warm up, then time rounds of each case interleaved (so machine
 * noise hits every case alike), and report the median rate. Benchmarks print ratios against a
 * peer measured in the same run, never a bare time.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeDynamoDBRecord } from '@shardline/testing';
import type { DynamoDBRecord } from 'aws-lambda';

/** One case: runs `records` records once per call. */
export interface BenchCase {
  readonly name: string;
  readonly records: number;
  run(): Promise<unknown>;
}

/** The median records/s of each case, by name. */
export async function measure(
  cases: readonly BenchCase[],
  options: { rounds?: number; minRoundMs?: number; warmup?: number } = {},
) {
  const rounds = options.rounds ?? 7;
  const minRoundMs = options.minRoundMs ?? 300;
  for (const c of cases) for (let i = 0; i < (options.warmup ?? 20); i++) await c.run();
  const rates = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      let iterations = 0;
      const started = performance.now();
      let elapsed = 0;
      do {
        await c.run();
        iterations++;
        elapsed = performance.now() - started;
      } while (elapsed < minRoundMs);
      rates.get(c.name)!.push((iterations * c.records) / (elapsed / 1000));
    }
  }
  return medians(rates);
}

/** One case of {@link measureEach}: handles one input (its own, never seen before) per call. */
export interface EachCase<T> {
  readonly name: string;
  readonly records: number;
  run(input: T): Promise<unknown>;
}

/**
 * The median records/s of each case, by name, where every call gets an input of its own, built
 * just before the call and outside the timing: for costs that a reused input hides (V8 caches a string's
 * hash in the string, so a benchmark that feeds the same event again hashes nothing new).
 *
 * Each call starts on an empty young generation (a minor GC, outside the timing). Without it, a
 * scavenge (about 2 ms with a parsed 1000-record event alive, one every few calls) fell on
 * whichever case allocated when the young generation filled, and that was phase luck: one
 * handler read 0.47 ms a call at the median and 0.91 ms on average, 15 % of its calls holding
 * a scavenge that the inputs' parsing had mostly allocated for, and a change that cut its
 * allocation by an eighth read as twice as slow. So the timing counts work, not who is
 * standing there when the collector comes, and `options.allocated` reports what each case
 * leaves for the collector: the median bytes allocated in a call, by name.
 */
export async function measureEach<T>(
  cases: readonly EachCase<T>[],
  makeInput: () => T,
  options: {
    rounds?: number;
    calls?: number;
    warmup?: number;
    /** Filled with the median bytes each case allocates in a call, by name. */
    allocated?: Map<string, number>;
  } = {},
) {
  const rounds = options.rounds ?? 7;
  const calls = options.calls ?? 50;
  for (const c of cases) for (let i = 0; i < (options.warmup ?? 20); i++) await c.run(makeInput());
  const rates = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const allocations = cases.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    const elapsed = cases.map(() => 0);
    // The cases take turns call by call, not round by round: a garbage collection that one
    // case's input (or the other's garbage) sets off then lands on either alike. Round by round,
    // the same two cases measured 1.3x and 3.0x of each other in consecutive runs.
    // The order turns each call too: the case that runs after the one that leaves the most
    // garbage pays for its collection, and with a fixed order that was always the same case
    // (two runs of one handler, 6 % apart alone, read 1.5x apart behind Powertools).
    for (let call = 0; call < calls; call++) {
      for (let turn = 0; turn < cases.length; turn++) {
        const c = (call + turn) % cases.length;
        // One input alive at a time, as in a Lambda execution environment: a pool built up front
        // would be copied by every young-generation GC and slow the case that allocates most.
        const input = makeInput();
        collectYoungGeneration();
        const heapBefore = process.memoryUsage().heapUsed;
        const started = performance.now();
        await cases[c]!.run(input);
        elapsed[c]! += performance.now() - started;
        allocations[c]!.push(process.memoryUsage().heapUsed - heapBefore);
      }
    }
    for (let c = 0; c < cases.length; c++) {
      const { name, records } = cases[c]!;
      rates.get(name)!.push((calls * records) / (elapsed[c]! / 1000));
    }
  }
  if (options.allocated) {
    const byName = new Map(cases.map((c, i) => [c.name, allocations[i]!]));
    for (const [name, bytes] of medians(byName)) options.allocated.set(name, bytes);
  }
  return medians(rates);
}

/** V8's `gc`, reached without `--expose-gc` on the command line. */
const gc = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
})();

/** Empties the young generation (a scavenge): see {@link measureEach}. */
function collectYoungGeneration(): void {
  gc({ type: 'minor' });
}

function medians(rates: Map<string, number[]>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [name, list] of rates) {
    list.sort((a, b) => a - b);
    result.set(name, list[Math.floor(list.length / 2)]!);
  }
  return result;
}

/** The number given as `--name=N` on the command line, else `fallback`. */
export function flag(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg ? Number(arg.split('=')[1]) : fallback;
}

/** Formats a rate in records/s. */
export function rate(value: number): string {
  return `${Math.round(value).toLocaleString('en-US')} rec/s`;
}

/** Prints a table of rows (first row = header). */
export function table(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
}

/**
 * The batch the core and Lambda benchmarks share: `records` MODIFY records of a votes table
 * over `keys` users, each image about 300 bytes, in the Lambda DynamoDB event shape.
 */
export function voteBatch(records: number, keys: number): DynamoDBRecord[] {
  const batch: DynamoDBRecord[] = [];
  for (let i = 0; i < records; i++) {
    const key = `user-${i % keys}`;
    batch.push(
      makeDynamoDBRecord({
        eventName: 'MODIFY',
        keys: { UserID: key },
        oldImage: {
          UserID: key,
          vote: 'A',
          Date: '2026-11-23T10:00:00Z',
          note: 'x'.repeat(180),
          n: i - 1,
        },
        newImage: {
          UserID: key,
          vote: 'B',
          Date: '2026-11-23T10:00:01Z',
          note: 'y'.repeat(180),
          n: i,
        },
      }),
    );
  }
  return batch;
}
