import type { Server } from 'node:http';
import { freePort, type LocalClientConfig, localClientConfig } from '@shardline/local';
import kinesalite from 'kinesalite';

/** A running kinesalite (in-memory Kinesis) on a loopback port. */
export interface KinesaliteServer {
  readonly endpoint: string;
  readonly port: number;
  /** Settings for `new KinesisClient(...)`, with the HTTP/1.1 handler kinesalite needs. */
  readonly clientConfig: LocalClientConfig;
  stop(): Promise<void>;
}

/** Options of {@link startKinesalite}. */
export interface StartKinesaliteOptions {
  readonly port?: number;
  /** Simulated delay of CreateStream/UpdateShardCount/Split/Merge, in ms. @default 0 */
  readonly operationDelayMs?: number;
  /** Most shards per account. @default 200 */
  readonly shardLimit?: number;
}

/** Starts kinesalite in memory (SplitShard and MergeShards work) on a free loopback port. */
export async function startKinesalite(
  options: StartKinesaliteOptions = {},
): Promise<KinesaliteServer> {
  const port = options.port ?? (await freePort());
  const delay = options.operationDelayMs ?? 0;
  const server: Server = kinesalite({
    createStreamMs: delay,
    deleteStreamMs: delay,
    updateStreamMs: delay,
    shardLimit: options.shardLimit ?? 200,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) =>
      reject(new Error(`kinesalite could not listen on 127.0.0.1:${port}: ${error.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    clientConfig: localClientConfig(endpoint),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
