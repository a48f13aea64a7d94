import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));

/** A worker running in a child process (see workerProcess.ts). */
export interface WorkerChild {
  readonly id: string;
  readonly process: ChildProcess;
  /** JSON events the child printed so far. */
  readonly events: { event: string; at: number; [k: string]: unknown }[];
  /** Resolves with the exit code (or signal) once it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts a worker process; `--conditions=source` lets Node load the workspace's TypeScript via tsx. */
export function spawnWorker(id: string, env: Record<string, string>): WorkerChild {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', SCRIPT], {
    env: { ...process.env, ...env, WORKER_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: WorkerChild['events'] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        events.push(JSON.parse(line));
      } catch {
        // not an event line
      }
      nl = buffer.indexOf('\n');
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

/** Lines of the append-only output file: `<workerId> <shardId> <sequenceNumber>`. */
export function readApplied(file: string): { worker: string; shardId: string; seq: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [worker, shardId, seq] = line.split(' ');
      return { worker: worker!, shardId: shardId!, seq: seq! };
    });
}

/** Polls until `condition` holds. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
