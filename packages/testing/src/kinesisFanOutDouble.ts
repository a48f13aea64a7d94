import {
  constants,
  createServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION } from '@shardline/local';
import { EventStreamCodec, type MessageHeaders } from '@smithy/core/event-streams';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

/** Options of {@link startKinesisFanOutDouble}. */
export interface KinesisFanOutDoubleOptions {
  /** The kinesalite endpoint records come from and other operations are forwarded to. */
  readonly kinesisEndpoint: string;
  /** How long a registered consumer stays CREATING before it is ACTIVE, in ms. @default 200 */
  readonly consumerActivationDelayMs?: number;
  /** How long one subscription lasts before the double ends it (AWS: 5 minutes), in ms. @default 300_000 */
  readonly subscriptionDurationMs?: number;
  /**
   * Least time between two accepted SubscribeToShard calls for one consumer and shard, in ms:
   * a call sooner is answered `LimitExceededException` (AWS: one call per second). @default 1000
   */
  readonly minSubscribeIntervalMs?: number;
  /** How often an open subscription reads kinesalite for new records, in ms. @default 20 */
  readonly pollIntervalMs?: number;
  /** How often a subscription with nothing new sends an event without records, in ms. @default 1000 */
  readonly emptyEventIntervalMs?: number;
  /** Records per GetRecords call to kinesalite, hence at most per event. @default 1000 */
  readonly recordsPerEvent?: number;
}

/** One SubscribeToShard call the double answered, for assertions. */
export interface FanOutSubscribeCall {
  readonly consumerArn: string;
  readonly shardId: string;
  readonly startingPosition: Record<string, unknown>;
  /** When the call arrived (epoch ms). */
  readonly at: number;
  /** `ok`, or the error code it was answered with. */
  readonly outcome: string;
}

/** A registered consumer, as the double holds it. */
export interface FanOutConsumer {
  readonly consumerName: string;
  readonly consumerArn: string;
  readonly streamArn: string;
  readonly createdAt: Date;
  status: 'CREATING' | 'ACTIVE';
}

/** A running Kinesis enhanced fan-out double. */
export interface KinesisFanOutDouble {
  /** The double's `http://127.0.0.1:PORT` (cleartext HTTP/2). */
  readonly endpoint: string;
  /**
   * Settings for `new KinesisClient(...)`: this endpoint, local credentials and a new SDK
   * HTTP/2 handler (`NodeHttp2Handler`, which SubscribeToShard needs) on every read, so each
   * client has its own connections. Every other operation is forwarded to kinesalite, so one
   * client serves the whole source.
   */
  readonly clientConfig: {
    readonly endpoint: string;
    readonly region: string;
    readonly credentials: typeof LOCAL_CREDENTIALS;
    readonly requestHandler: NodeHttp2Handler;
  };
  /** Every SubscribeToShard call, in arrival order. */
  readonly subscribeCalls: FanOutSubscribeCall[];
  /** The registered consumers by ARN. */
  readonly consumers: ReadonlyMap<string, FanOutConsumer>;
  /** Open subscriptions (consumer ARN and shard id of each). */
  openSubscriptions(): { consumerArn: string; shardId: string }[];
  /** Changes the duration of subscriptions started from now on, in ms. */
  setSubscriptionDuration(ms: number): void;
  /** Ends the open subscriptions of a shard (all when omitted) normally, as AWS does after 5 minutes. */
  endSubscriptions(shardId?: string): number;
  /** Destroys the HTTP/2 connections that carry a shard's open subscriptions (all when omitted). */
  dropConnections(shardId?: string): number;
  stop(): Promise<void>;
}

interface Subscription {
  readonly consumerArn: string;
  readonly shardId: string;
  readonly stream: ServerHttp2Stream;
  /** Ends the subscription: `true` ends it normally, `false` destroys its connection. */
  finish(normally: boolean): void;
}

const JSON_TYPE = 'application/x-amz-json-1.1';
const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

/**
 * Starts an HTTP/2 double of Kinesis enhanced fan-out on a free 127.0.0.1 port (cleartext
 * h2c, which the SDK's `NodeHttp2Handler` speaks for an `http://` endpoint). It implements
 * `RegisterStreamConsumer`, `DescribeStreamConsumer` (CREATING, then ACTIVE after
 * `consumerActivationDelayMs`), `ListStreamConsumers`, `DeregisterStreamConsumer` and
 * `SubscribeToShard`, answered in AWS's binary event stream (`application/vnd.amazon.eventstream`,
 * encoded with the SDK's own `EventStreamCodec`): an `initial-response` event, then
 * `SubscribeToShardEvent`s with `Records`, `ContinuationSequenceNumber`, `MillisBehindLatest`
 * and, at shard end, `ChildShards`. Records are read from kinesalite with GetRecords, so they
 * are real; every other operation is forwarded to kinesalite (a `StreamARN` also gets the
 * `StreamName` kinesalite needs).
 *
 * Enforced as AWS does: one subscription per consumer and shard (`ResourceInUseException`
 * while one is open), at most one accepted subscribe call per `minSubscribeIntervalMs`
 * per consumer and shard (`LimitExceededException`), subscriptions end after
 * `subscriptionDurationMs`. Faults on demand: {@link KinesisFanOutDouble.endSubscriptions},
 * {@link KinesisFanOutDouble.dropConnections}.
 *
 * Deviation: before a subscription from LATEST or AT_TIMESTAMP has read a record, its events
 * carry no `ContinuationSequenceNumber` (the double cannot name the position yet).
 *
 * @example
 * const kinesalite = await startKinesalite();
 * const efo = await startKinesisFanOutDouble({ kinesisEndpoint: kinesalite.endpoint });
 * const client = new KinesisClient(efo.clientConfig);
 */
export async function startKinesisFanOutDouble(
  options: KinesisFanOutDoubleOptions,
): Promise<KinesisFanOutDouble> {
  const activationDelayMs = options.consumerActivationDelayMs ?? 200;
  let durationMs = options.subscriptionDurationMs ?? 300_000;
  const minSubscribeIntervalMs = options.minSubscribeIntervalMs ?? 1000;
  const pollIntervalMs = options.pollIntervalMs ?? 20;
  const emptyEventIntervalMs = options.emptyEventIntervalMs ?? 1000;
  const recordsPerEvent = options.recordsPerEvent ?? 1000;
  const consumers = new Map<string, FanOutConsumer>();
  const subscriptions = new Set<Subscription>();
  /** Consumer|shard keys of subscribe calls being set up (their subscription not open yet). */
  const opening = new Set<string>();
  const lastSubscribeAt = new Map<string, number>();
  const subscribeCalls: FanOutSubscribeCall[] = [];
  const sessions = new Set<Http2Session>();
  /** The raw TCP sockets by client port (an HTTP/2 session's own socket cannot be destroyed). */
  const sockets = new Map<number, Socket>();
  let stopped = false;

  async function kinesis(operation: string, input: Record<string, unknown>): Promise<unknown> {
    const response = await fetch(options.kinesisEndpoint, {
      method: 'POST',
      headers: {
        'content-type': JSON_TYPE,
        'x-amz-target': `Kinesis_20131202.${operation}`,
        // kinesalite checks that a signature is there, not what it is.
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0',
        'x-amz-date': '20200101T000000Z',
      },
      body: JSON.stringify(withStreamName(input)),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (!response.ok) throw new ServiceError(String(body.__type ?? 'InternalFailure'), body);
    return body;
  }

  function consumerOf(input: Record<string, unknown>): FanOutConsumer {
    const arn = input.ConsumerARN;
    const found =
      typeof arn === 'string'
        ? consumers.get(arn)
        : [...consumers.values()].find(
            (c) => c.streamArn === input.StreamARN && c.consumerName === input.ConsumerName,
          );
    if (!found) {
      throw new ServiceError('ResourceNotFoundException', {
        message: `Consumer ${String(arn ?? input.ConsumerName)} not found.`,
      });
    }
    return found;
  }

  function describe(c: FanOutConsumer) {
    return {
      ConsumerName: c.consumerName,
      ConsumerARN: c.consumerArn,
      ConsumerStatus: c.status,
      ConsumerCreationTimestamp: c.createdAt.getTime() / 1000,
    };
  }

  async function control(operation: string, input: Record<string, unknown>): Promise<unknown> {
    switch (operation) {
      case 'RegisterStreamConsumer': {
        const streamArn = String(input.StreamARN ?? '');
        const name = String(input.ConsumerName ?? '');
        if (!name) throw new ServiceError('ValidationException', { message: 'ConsumerName.' });
        await kinesis('DescribeStreamSummary', { StreamARN: streamArn });
        if (
          [...consumers.values()].some((c) => c.streamArn === streamArn && c.consumerName === name)
        ) {
          throw new ServiceError('ResourceInUseException', {
            message: `Consumer ${name} is already registered for ${streamArn}.`,
          });
        }
        const createdAt = new Date();
        const consumer: FanOutConsumer = {
          consumerName: name,
          consumerArn: `${streamArn}/consumer/${name}:${Math.floor(createdAt.getTime() / 1000)}`,
          streamArn,
          createdAt,
          status: 'CREATING',
        };
        consumers.set(consumer.consumerArn, consumer);
        setTimeout(() => {
          consumer.status = 'ACTIVE';
        }, activationDelayMs).unref();
        return { Consumer: describe(consumer) };
      }
      case 'DescribeStreamConsumer': {
        const c = consumerOf(input);
        return { ConsumerDescription: { ...describe(c), StreamARN: c.streamArn } };
      }
      case 'ListStreamConsumers':
        return {
          Consumers: [...consumers.values()]
            .filter((c) => c.streamArn === input.StreamARN)
            .map(describe),
        };
      case 'DeregisterStreamConsumer': {
        const c = consumerOf(input);
        consumers.delete(c.consumerArn);
        for (const s of subscriptions) if (s.consumerArn === c.consumerArn) s.finish(true);
        return {};
      }
      default:
        return undefined;
    }
  }

  function sendEvent(stream: ServerHttp2Stream, eventType: string, body: unknown): void {
    const headers: MessageHeaders = {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: 'application/json' },
    };
    stream.write(codec.encode({ headers, body: Buffer.from(JSON.stringify(body), 'utf8') }));
  }

  async function subscribe(
    stream: ServerHttp2Stream,
    input: Record<string, unknown>,
  ): Promise<void> {
    const consumerArn = String(input.ConsumerARN ?? '');
    const shardId = String(input.ShardId ?? '');
    const position = (input.StartingPosition ?? {}) as Record<string, unknown>;
    const call = { consumerArn, shardId, startingPosition: position, at: Date.now() };
    const key = `${consumerArn}|${shardId}`;
    let reserved = false;
    try {
      const consumer = consumerOf(input);
      if (consumer.status !== 'ACTIVE') {
        throw new ServiceError('ResourceInUseException', {
          message: `Consumer ${consumer.consumerName} is ${consumer.status}, not ACTIVE.`,
        });
      }
      if (
        opening.has(key) ||
        [...subscriptions].some((s) => s.consumerArn === consumerArn && s.shardId === shardId)
      ) {
        throw new ServiceError('ResourceInUseException', {
          message: `Another subscription of ${consumer.consumerName} holds shard ${shardId}.`,
        });
      }
      const last = lastSubscribeAt.get(key);
      if (last !== undefined && call.at - last < minSubscribeIntervalMs) {
        throw new ServiceError('LimitExceededException', {
          message: `More than one SubscribeToShard call in ${minSubscribeIntervalMs} ms for ${shardId}.`,
        });
      }
      // Held from here, so a concurrent call is refused while this one opens.
      opening.add(key);
      reserved = true;
      const streamName = streamNameOf(consumer.streamArn);
      const { ShardIterator } = (await kinesis('GetShardIterator', {
        StreamName: streamName,
        ShardId: shardId,
        ShardIteratorType: position.Type,
        ...(position.SequenceNumber !== undefined
          ? { StartingSequenceNumber: position.SequenceNumber }
          : {}),
        ...(position.Timestamp !== undefined ? { Timestamp: position.Timestamp } : {}),
      })) as { ShardIterator: string };
      lastSubscribeAt.set(key, call.at);
      subscribeCalls.push({ ...call, outcome: 'ok' });
      let continuation: string | undefined =
        typeof position.SequenceNumber === 'string' && position.Type === 'AFTER_SEQUENCE_NUMBER'
          ? position.SequenceNumber
          : undefined;
      if (continuation === undefined && position.Type === 'TRIM_HORIZON') {
        continuation = await shardStartingSequenceNumber(streamName, shardId);
      }
      const served = serve(stream, consumerArn, shardId, streamName, ShardIterator, continuation);
      opening.delete(key); // the subscription is open (serve adds it before its first await)
      reserved = false;
      await served;
    } catch (error) {
      if (reserved) opening.delete(key);
      const code = error instanceof ServiceError ? error.code : 'InternalFailure';
      subscribeCalls.push({ ...call, outcome: code });
      if (!stream.headersSent) answerError(stream, error);
      else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
  }

  async function shardStartingSequenceNumber(
    streamName: string,
    shardId: string,
  ): Promise<string | undefined> {
    const { Shards } = (await kinesis('ListShards', { StreamName: streamName })) as {
      Shards: { ShardId: string; SequenceNumberRange: { StartingSequenceNumber: string } }[];
    };
    return Shards.find((s) => s.ShardId === shardId)?.SequenceNumberRange.StartingSequenceNumber;
  }

  async function serve(
    stream: ServerHttp2Stream,
    consumerArn: string,
    shardId: string,
    streamName: string,
    firstIterator: string,
    firstContinuation: string | undefined,
  ): Promise<void> {
    let done = false;
    let wake: (() => void) | undefined;
    const subscription: Subscription = {
      consumerArn,
      shardId,
      stream,
      finish(normally) {
        if (done) return;
        done = true;
        subscriptions.delete(subscription);
        // A dropped connection: the TCP socket closes with no HTTP/2 goodbye (GOAWAY).
        if (!normally) sockets.get(stream.session?.socket.remotePort ?? -1)?.destroy();
        else if (!stream.destroyed) stream.end();
        wake?.();
      },
    };
    subscriptions.add(subscription);
    stream.once('close', () => subscription.finish(true));
    const timer = setTimeout(() => subscription.finish(true), durationMs);
    timer.unref();
    stream.respond({
      ':status': 200,
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amzn-requestid': `efo-${Date.now()}`,
    });
    sendEvent(stream, 'initial-response', {});
    let iterator: string | undefined = firstIterator;
    let continuation = firstContinuation;
    let lastEventAt = Date.now();
    try {
      while (!done && !stopped && iterator) {
        const page = (await kinesis('GetRecords', {
          ShardIterator: iterator,
          Limit: recordsPerEvent,
        })) as {
          Records: { SequenceNumber: string }[];
          NextShardIterator?: string;
          MillisBehindLatest?: number;
        };
        if (done) break;
        iterator = page.NextShardIterator;
        const records = page.Records ?? [];
        if (records.length > 0) continuation = records[records.length - 1]!.SequenceNumber;
        const event: Record<string, unknown> = {
          Records: records,
          MillisBehindLatest: page.MillisBehindLatest ?? 0,
        };
        if (!iterator) {
          event.ChildShards = await childShards(streamName, shardId);
        } else if (continuation !== undefined) {
          event.ContinuationSequenceNumber = continuation;
        }
        if (records.length > 0 || !iterator || Date.now() - lastEventAt >= emptyEventIntervalMs) {
          sendEvent(stream, 'SubscribeToShardEvent', event);
          lastEventAt = Date.now();
        }
        if (!iterator) break;
        if (records.length === 0) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, pollIntervalMs).unref();
          });
          wake = undefined;
        }
      }
      subscription.finish(true);
    } catch {
      subscription.finish(false);
    } finally {
      clearTimeout(timer);
    }
  }

  async function childShards(streamName: string, shardId: string) {
    const { Shards } = (await kinesis('ListShards', { StreamName: streamName })) as {
      Shards: {
        ShardId: string;
        ParentShardId?: string;
        AdjacentParentShardId?: string;
        HashKeyRange: unknown;
      }[];
    };
    return Shards.filter(
      (s) => s.ParentShardId === shardId || s.AdjacentParentShardId === shardId,
    ).map((s) => ({
      ShardId: s.ShardId,
      ParentShards: [s.ParentShardId, s.AdjacentParentShardId].filter(Boolean),
      HashKeyRange: s.HashKeyRange,
    }));
  }

  function answerError(stream: ServerHttp2Stream, error: unknown): void {
    const code = error instanceof ServiceError ? error.code : 'InternalFailure';
    const body =
      error instanceof ServiceError
        ? { __type: code, message: error.message }
        : { __type: code, message: `fan-out double failed: ${String(error)}` };
    const text = JSON.stringify(body);
    stream.respond({
      ':status': code === 'InternalFailure' ? 500 : 400,
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(text),
      'x-amzn-errortype': code,
    });
    stream.end(text);
  }

  async function forward(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    body: Buffer,
  ): Promise<void> {
    const target = String(headers['x-amz-target'] ?? '');
    const input =
      body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
    const response = await fetch(options.kinesisEndpoint, {
      method: 'POST',
      headers: {
        'content-type': String(headers['content-type'] ?? JSON_TYPE),
        'x-amz-target': target,
        authorization: String(headers.authorization ?? ''),
        'x-amz-date': String(headers['x-amz-date'] ?? ''),
      },
      body: JSON.stringify(withStreamName(input)),
    });
    const text = Buffer.from(await response.arrayBuffer());
    stream.respond({
      ':status': response.status,
      'content-type': response.headers.get('content-type') ?? JSON_TYPE,
      'content-length': text.length,
    });
    stream.end(text);
  }

  const server: Http2Server = createServer();
  server.on('connection', (socket: Socket) => {
    const port = socket.remotePort ?? -1;
    sockets.set(port, socket);
    socket.once('close', () => sockets.delete(port));
  });
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => undefined);
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation =
        String(headers['x-amz-target'] ?? '')
          .split('.')
          .pop() ?? '';
      const handle = async () => {
        const input =
          body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
        if (operation === 'SubscribeToShard') return subscribe(stream, input);
        const output = await control(operation, input);
        if (output === undefined) return forward(stream, headers, body);
        const text = JSON.stringify(output);
        stream.respond({
          ':status': 200,
          'content-type': JSON_TYPE,
          'content-length': Buffer.byteLength(text),
        });
        stream.end(text);
      };
      handle().catch((error: unknown) => {
        if (stream.destroyed) return;
        if (!stream.headersSent) answerError(stream, error);
        else stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) =>
      reject(new Error(`fan-out double could not listen on 127.0.0.1:${port}: ${error.message}`)),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const matching = (shardId?: string) =>
    [...subscriptions].filter((s) => shardId === undefined || s.shardId === shardId);
  return {
    endpoint,
    get clientConfig() {
      return {
        endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        requestHandler: new NodeHttp2Handler(),
      };
    },
    subscribeCalls,
    consumers,
    openSubscriptions: () =>
      [...subscriptions].map(({ consumerArn, shardId }) => ({ consumerArn, shardId })),
    setSubscriptionDuration(ms) {
      durationMs = ms;
    },
    endSubscriptions(shardId) {
      const found = matching(shardId);
      for (const s of found) s.finish(true);
      return found.length;
    },
    dropConnections(shardId) {
      const found = matching(shardId);
      for (const s of found) s.finish(false);
      return found.length;
    },
    stop: async () => {
      stopped = true;
      for (const s of [...subscriptions]) s.finish(false);
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An error answered in the AWS JSON protocol's format (`__type`, `message`). */
class ServiceError extends Error {
  constructor(
    readonly code: string,
    body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.Message ?? code));
  }
}

function streamNameOf(streamArn: string): string {
  const match = /:stream\/([^/]+)/.exec(streamArn);
  if (!match) {
    throw new ServiceError('InvalidArgumentException', {
      message: `${streamArn} is not a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).`,
    });
  }
  return match[1]!;
}

/** kinesalite names streams only by `StreamName`: add it when a call gives a `StreamARN`. */
function withStreamName(input: Record<string, unknown>): Record<string, unknown> {
  if (typeof input.StreamARN !== 'string' || input.StreamName !== undefined) return input;
  const { StreamARN, ...rest } = input;
  return { ...rest, StreamName: streamNameOf(StreamARN) };
}
