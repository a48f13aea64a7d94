import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@shardline/testing';

const SCRIPT = fileURLToPath(new URL('./fleetWorker.ts', import.meta.url));

/** A fleet worker in its own process (see fleetWorker.ts). */
export interface FleetWorker {
  readonly id: string;
  readonly process: ChildProcess;
  /** JSON events the process printed so far. */
  readonly events: { event: string; at: number; [k: string]: unknown }[];
  /** Resolves with the exit code (or signal) once it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a fleet worker process; `--conditions=source` loads the workspace's TypeScript via tsx. */
export function startFleetWorker(id: string, env: Record<string, string>): FleetWorker {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', SCRIPT], {
    env: { ...process.env, ...env, WORKER_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: FleetWorker['events'] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        events.push(JSON.parse(line));
      } catch {
        // not an event line
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code !== 0 && code !== null && stderr) console.error(`worker ${id} stderr: ${stderr}`);
      resolve({ code, signal });
    }),
  );
  return { id, process: child, events, exited };
}

/** One applied record, as a fleet worker logged it. */
export interface Applied {
  readonly worker: string;
  readonly shardId: string;
  readonly seq: string;
  readonly key: string;
  readonly value: string;
  /** Line number in the log: the global order of applications. */
  readonly at: number;
}

/** Every record applied so far, in the order applied. */
export function readApplied(file: string): Applied[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line, at) => {
      const [worker, shardId, seq, key, value] = line.split(' ') as [
        string,
        string,
        string,
        string,
        string,
      ];
      return { worker, shardId, seq, key, value, at };
    });
}

/** Polls until `condition` holds. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A seeded PRNG, so fault schedules repeat. */
export const seeded = seededRandom;

/**
 * What went wrong with the applications, against the values written per key in order:
 * skipped values, first applications out of order, and repeats (`allowRepeat` says which are
 * expected, e.g. past the checkpoint of a worker killed with -9).
 */
export function checkApplications(
  applied: readonly Applied[],
  expected: ReadonlyMap<string, readonly string[]>,
  allowRepeat: (first: Applied, again: Applied) => boolean = () => false,
): { missing: string[]; outOfOrder: string[]; badRepeats: string[]; repeats: number } {
  const first = new Map<string, Applied>();
  const firstValuesByKey = new Map<string, string[]>();
  const badRepeats: string[] = [];
  let repeats = 0;
  for (const a of applied) {
    const id = `${a.shardId} ${a.seq}`;
    const earlier = first.get(id);
    if (earlier) {
      repeats++;
      if (!allowRepeat(earlier, a)) badRepeats.push(`${id} (${earlier.worker} then ${a.worker})`);
      continue;
    }
    first.set(id, a);
    const values = firstValuesByKey.get(a.key) ?? [];
    values.push(a.value);
    firstValuesByKey.set(a.key, values);
  }
  const missing: string[] = [];
  const outOfOrder: string[] = [];
  for (const [key, values] of expected) {
    const got = firstValuesByKey.get(key) ?? [];
    const gotSet = new Set(got);
    for (const v of values) if (!gotSet.has(v)) missing.push(`${key}=${v}`);
    const wanted = values.filter((v) => gotSet.has(v));
    if (wanted.join(',') !== got.filter((v) => values.includes(v)).join(',')) {
      outOfOrder.push(`${key}: applied ${got.join(',')} written ${values.join(',')}`);
    }
  }
  return { missing, outOfOrder, badRepeats, repeats };
}
