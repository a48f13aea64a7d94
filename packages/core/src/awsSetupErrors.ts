import { ConfigurationError, errorMessage } from './errors.js';
import { awsErrorCode, StreamReadError } from './StreamReadError.js';

/**
 * The part of an AWS SDK v3 client that says where it sends its calls (`client.config`). Typed
 * structurally so that core does not depend on the SDK.
 */
export interface AwsClientLike {
  readonly config: {
    /** The SDK's resolved region provider. */
    readonly region?: unknown;
    /** The SDK's resolved endpoint provider, when an endpoint was set (`AWS_ENDPOINT_URL`). */
    readonly endpoint?: unknown;
  };
}

/** Where an SDK client sends its calls, for error messages. */
export interface AwsClientTarget {
  /** The region, or `undefined` when none is configured. */
  readonly region: string | undefined;
  /** The endpoint URL when one was set (DynamoDB Local, kinesalite), else `undefined` (AWS's). */
  readonly endpoint: string | undefined;
}

/** The thing a setup error is about, and how to fix its absence. */
export interface AwsResource {
  /** What it is, as a user would name it: `DynamoDB table Votes`, `Kinesis stream orders`. */
  readonly what: string;
  /** The SDK client's class, for the region fix: `DynamoDBClient`. */
  readonly clientName: string;
  /**
   * What to do when it does not exist, as commands that run as printed: `create it with: aws
   * dynamodb create-table …, or set tableName to an existing table`.
   */
  readonly fix: string;
}

/**
 * Whether an SDK error says that no region is configured (the SDK throws a plain `Error`
 * "Region is missing" before any call is sent, so no code or status says it).
 */
export function isRegionMissing(error: unknown): boolean {
  const cause = error instanceof StreamReadError ? error.cause : error;
  return (
    awsErrorCode(cause) === 'RegionMissingError' || /region is missing/i.test(errorMessage(cause))
  );
}

/** Whether an SDK error says the table, stream or shard does not exist. */
export function isResourceNotFound(error: unknown): boolean {
  const code = error instanceof StreamReadError ? error.code : awsErrorCode(error);
  return code === 'ResourceNotFoundException' || code === 'TableNotFoundException';
}

/**
 * The region and endpoint an SDK client uses, read from its resolved configuration; each is
 * `undefined` when it cannot be resolved (no region configured, the default AWS endpoint).
 */
export async function awsClientTarget(client: AwsClientLike): Promise<AwsClientTarget> {
  const resolve = async (provider: unknown): Promise<unknown> => {
    try {
      return typeof provider === 'function' ? await provider() : provider;
    } catch {
      return undefined;
    }
  };
  const region = await resolve(client.config.region);
  const endpoint = (await resolve(client.config.endpoint)) as
    | { protocol?: string; hostname?: string; port?: number; path?: string }
    | string
    | undefined;
  let url: string | undefined;
  if (typeof endpoint === 'string') url = endpoint;
  else if (endpoint?.hostname) {
    const protocol = (endpoint.protocol ?? 'https:').replace(/:?$/, ':');
    const port = endpoint.port ? `:${endpoint.port}` : '';
    url = `${protocol}//${endpoint.hostname}${port}${endpoint.path && endpoint.path !== '/' ? endpoint.path : ''}`;
  }
  return { region: typeof region === 'string' && region ? region : undefined, endpoint: url };
}

/**
 * Turns an SDK error met while reaching `resource` into a {@link ConfigurationError} that names
 * it, where the client looked (region and endpoint) and the fix, when the error is a setup
 * problem no retry can cure: the resource does not exist, or no region is configured. Any other
 * error is returned unchanged (throttling and faults are the retry policy's).
 *
 * @example
 * try {
 *   await dynamodb.send(new DescribeTableCommand({ TableName: 'Votes' }));
 * } catch (error) {
 *   throw await explainAwsSetupError(error, {
 *     what: 'DynamoDB table Votes',
 *     clientName: 'DynamoDBClient',
 *     fix: 'create it, or set tableName to an existing table',
 *   }, dynamodb);
 * }
 */
export async function explainAwsSetupError(
  error: unknown,
  resource: AwsResource,
  client: AwsClientLike,
): Promise<unknown> {
  if (error instanceof ConfigurationError) return error;
  if (isRegionMissing(error)) {
    return new ConfigurationError(
      `No AWS region is configured for the ${resource.clientName} that reaches ${resource.what}. Set AWS_REGION (e.g. AWS_REGION=us-east-1; or a profile's region through AWS_PROFILE), or pass it to the client: new ${resource.clientName}({ region: 'us-east-1' }).`,
      { cause: error },
    );
  }
  if (isResourceNotFound(error)) {
    const { region, endpoint } = await awsClientTarget(client);
    return new ConfigurationError(
      `${resource.what} not found in region ${region ?? '(none)'} at ${endpoint ?? 'the AWS endpoint'}: ${resource.fix}. If it exists elsewhere, check AWS_REGION and AWS_ENDPOINT_URL (the client's region and endpoint).`,
      { cause: error },
    );
  }
  return error;
}
