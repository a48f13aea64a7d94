import { NodeHttpHandler } from '@smithy/node-http-handler';

/** The region every local server is addressed in. */
export const LOCAL_REGION = 'us-east-1';

/** Static credentials that local servers accept (they check none). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** SDK v3 client settings for a local endpoint. */
export interface LocalClientConfig {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly requestHandler?: NodeHttpHandler;
  readonly forcePathStyle?: boolean;
  readonly maxAttempts?: number;
}

/**
 * Client settings for `endpoint`. The HTTP/1.1 handler is needed for kinesalite (the Kinesis
 * client's default handler speaks HTTP/2) and does no harm elsewhere.
 */
export function localClientConfig(
  endpoint: string,
  extra: Partial<LocalClientConfig> = {},
): LocalClientConfig {
  return {
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5000, requestTimeout: 30_000 }),
    ...extra,
  };
}

/**
 * The `AWS_*` variables that point SDK clients built with no configuration (the CLI's, a
 * worker's) at a local endpoint: `Object.assign(process.env, localAwsEnvironment(endpoint))`.
 */
export function localAwsEnvironment(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
}
