import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { Output, type OutputStream } from './Output.js';

/** Where the CLI runs: its streams and environment (tests pass their own). */
export interface CliIo {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * SDK v3 clients of one CLI run, built on first use with no explicit configuration: region,
 * credentials and endpoints come from the standard `AWS_*` variables, read by the SDK itself.
 */
export class AwsClients {
  #dynamodb: DynamoDBClient | undefined;
  #streams: DynamoDBStreamsClient | undefined;
  #kinesis: KinesisClient | undefined;

  /** The DynamoDB client (tables, lease tables). */
  get dynamodb(): DynamoDBClient {
    this.#dynamodb ??= new DynamoDBClient({});
    return this.#dynamodb;
  }

  /** The DynamoDB Streams client. */
  get streams(): DynamoDBStreamsClient {
    this.#streams ??= new DynamoDBStreamsClient({});
    return this.#streams;
  }

  /** The Kinesis client. */
  get kinesis(): KinesisClient {
    this.#kinesis ??= new KinesisClient({});
    return this.#kinesis;
  }

  /** Closes the clients' sockets so the process can exit. */
  destroy(): void {
    this.#dynamodb?.destroy();
    this.#streams?.destroy();
    this.#kinesis?.destroy();
  }
}

/** What every command gets: output, clients and the stop signal (Ctrl-C, SIGTERM). */
export interface CliContext {
  readonly io: CliIo;
  readonly clients: AwsClients;
  /** Aborted on the first Ctrl-C or SIGTERM: long commands stop cleanly. */
  readonly signal: AbortSignal;
  /** Output for the global `--json` choice. */
  output(json: boolean): Output;
}

/** Builds a {@link CliContext}. */
export function createCliContext(io: CliIo, signal: AbortSignal): CliContext {
  const clients = new AwsClients();
  return {
    io,
    clients,
    signal,
    output: (json) => new Output({ stdout: io.stdout, stderr: io.stderr, json, env: io.env }),
  };
}
