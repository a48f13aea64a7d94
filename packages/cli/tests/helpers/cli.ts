import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { runCli } from '../../src/program.js';

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in this process (fast), capturing stdout and stderr; `env` replaces process.env. */
export async function cli(
  args: readonly string[],
  signal?: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    {
      stdout: { write: (t: string) => (stdout += t), isTTY: false },
      stderr: { write: (t: string) => (stderr += t), isTTY: false },
      env,
    },
    signal,
  );
  return { code, stdout, stderr };
}

const REPO = resolve(import.meta.dirname, '../../../..');
const BIN = resolve(REPO, 'packages/cli/src/bin.ts');

/** Runs the real `shardline` binary (from source, through tsx) in a child process. */
export function spawnCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: {
    timeoutMs?: number;
    onStdout?: (text: string, child: ChildProcess) => void;
    onStderr?: (text: string, child: ChildProcess) => void;
  } = {},
): Promise<CliRun & { signal: NodeJS.Signals | null }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', BIN, ...args],
      { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(chunk.toString(), child);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.onStderr?.(chunk.toString(), child);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', fail);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

/**
 * An environment with no AWS settings at all (no region, no credentials, no profile, and not
 * the SDK's Node 20 warning switch: the CLI sets that itself).
 */
export function envWithoutAws(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_CONFIG_FILE = '/nonexistent/shardline-test-config';
  env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/shardline-test-credentials';
  return env;
}
