import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort, localClientConfig, waitForHttp } from '@shardline/local';
import type { KinesaliteServer, StartKinesaliteOptions } from './kinesalite.js';

/**
 * Starts kinesalite in a child process on a free loopback port. For benchmarks: in-process,
 * kinesalite's CPU and memory would be charged to the reader under test (its event loop, its
 * RSS), so a latency or memory figure would partly measure kinesalite. `stop` ends the child.
 */
export async function startKinesaliteProcess(
  options: StartKinesaliteOptions = {},
): Promise<KinesaliteServer & { readonly pid: number | undefined }> {
  const port = options.port ?? (await freePort());
  const main = createRequire(import.meta.url).resolve('kinesalite');
  const settings = {
    createStreamMs: options.operationDelayMs ?? 0,
    deleteStreamMs: options.operationDelayMs ?? 0,
    updateStreamMs: options.operationDelayMs ?? 0,
    shardLimit: options.shardLimit ?? 200,
  };
  // Not kinesalite's own CLI: it listens on every interface, and local servers bind loopback.
  const script = `require(${JSON.stringify(main)})(${JSON.stringify(settings)}).listen(${port}, '127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `kinesalite exited early (${String(code ?? signal)}); is port ${port} free?`;
      resolve();
    });
  });
  // A benchmark that crashes must not leave kinesalite behind.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  void gone.then(() => process.off('exit', kill));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(endpoint, 15_000, () => exited);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    port,
    pid: child.pid,
    clientConfig: localClientConfig(endpoint),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await gone;
    },
  };
}
