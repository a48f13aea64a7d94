import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LocalClientConfig, localClientConfig } from '@shardline/local';
import S3rver from 's3rver';

/** A running s3rver on a loopback port, storing objects in a temporary folder. */
export interface S3rverServer {
  readonly endpoint: string;
  readonly port: number;
  /** Settings for `new S3Client(...)`, path-style. */
  readonly clientConfig: LocalClientConfig;
  /** Stops the server and deletes its folder. */
  stop(): Promise<void>;
}

/** Options of {@link startS3rver}. */
export interface StartS3rverOptions {
  readonly port?: number;
  /** Buckets to create at start (names of 3+ characters). */
  readonly buckets?: readonly string[];
}

/** Starts s3rver (path-style S3) on a free loopback port. */
export async function startS3rver(options: StartS3rverOptions = {}): Promise<S3rverServer> {
  const port = options.port ?? (await freePort());
  const directory = await mkdtemp(join(tmpdir(), 'shardline-s3-'));
  for (const bucket of options.buckets ?? []) {
    if (bucket.length < 3)
      throw new Error(`Bucket name "${bucket}" is too short: s3rver needs 3+ characters.`);
  }
  const server = new S3rver({
    port,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    // s3rver accepts only its own fixed key pair.
    clientConfig: localClientConfig(endpoint, {
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }),
    stop: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
