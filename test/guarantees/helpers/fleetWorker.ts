/**
 * One worker process of the fleet guarantees tests: reads a Kinesis stream (kinesalite) or a
 * multi-shard DynamoDB stream, keeps leases in DynamoDB Local, and appends every record it
 * applies to an append-only file (synchronously, before the record counts as done, so a kill -9
 * loses no line of what was applied). With MODE=votes the records also go through the vote
 * recipe's summary sink (the ledger), as in production.
 *
 * Env: SOURCE (kinesis | dynamodb), DDB_ENDPOINT, APP, WORKER_ID, OUT_FILE, LEASE_MS, and
 * KINESIS_ENDPOINT + STREAM_NAME, or STREAMS_ENDPOINT + STREAM_ARN (+ SUMMARY_TABLE for votes);
 * MODE=sinks writes through OpenSearch, S3 and SNS FIFO at once (OPENSEARCH_URL, S3_ENDPOINT +
 * S3_BUCKET, SNS_ENDPOINT + TOPIC_ARN). DEBUG_WARN=1 prints the worker's warnings too.
 */
import { appendFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { type ChangeRecord, canonicalKey, FanOutSink, type Sink } from '@shardline/core';
import { DynamoDBStreamsSource } from '@shardline/dynamodb-streams';
import { createVoteSummarySink } from '@shardline/example-vote-aggregation';
import { KinesisSource } from '@shardline/kinesis';
import { OpenSearchSink } from '@shardline/sink-opensearch';
import { S3ArchiveSink } from '@shardline/sink-s3';
import { SnsSink } from '@shardline/sink-sns';
import { localClientConfig } from '@shardline/testing';
import { createWorker } from '@shardline/worker';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const env = process.env;
const leaseMs = Number(env.LEASE_MS ?? 1500);
const workerId = env.WORKER_ID!;
const print = (event: string, data: object) =>
  process.stdout.write(`${JSON.stringify({ event, at: Date.now(), ...data })}\n`);

/** `<worker> <shard> <sequence> <key> <value>`: what the parent checks. */
function log(records: readonly ChangeRecord[]): void {
  let lines = '';
  for (const r of records) {
    const key = r.marshalledKeys ? canonicalKey(r.marshalledKeys) : r.orderingKey;
    const value =
      r.source === 'kinesis'
        ? Buffer.from(r.data ?? new Uint8Array()).toString()
        : // put:<n> or del:<n>, unique per key: a delete carries the n of the item it removed
          `${r.eventName === 'REMOVE' ? 'del' : 'put'}:${String(
            r.eventName === 'REMOVE' ? r.oldImage?.n : r.newImage?.n,
          )}`;
    lines += `${workerId} ${r.shardId} ${r.sequenceNumber} ${key.replaceAll(' ', '_')} ${value}\n`;
  }
  appendFileSync(env.OUT_FILE!, lines);
}

const ddb = new DynamoDBClient(localClientConfig(env.DDB_ENDPOINT!));
const source =
  env.SOURCE === 'kinesis'
    ? await KinesisSource.create({
        client: new KinesisClient({
          ...localClientConfig(env.KINESIS_ENDPOINT!),
          requestHandler: new NodeHttpHandler(),
        }),
        streamName: env.STREAM_NAME!,
      })
    : new DynamoDBStreamsSource({
        client: new DynamoDBStreamsClient(localClientConfig(env.STREAMS_ENDPOINT!)),
        streamArn: env.STREAM_ARN!,
      });

let sink: Sink | undefined;
if (env.MODE === 'sinks') {
  // Every sink at once, as a fan-out: OpenSearch (double), S3 (s3rver), SNS FIFO (double).
  const targets = new FanOutSink({
    targets: [
      new OpenSearchSink({
        client: new OpenSearchClient({ node: env.OPENSEARCH_URL! }),
        index: 'items',
      }),
      new S3ArchiveSink({
        client: new S3Client(
          localClientConfig(env.S3_ENDPOINT!, {
            forcePathStyle: true,
            credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
          }),
        ),
        bucket: env.S3_BUCKET!,
        prefix: 'cdc/',
      }),
      new SnsSink({
        client: new SNSClient(localClientConfig(env.SNS_ENDPOINT!)),
        topicArn: env.TOPIC_ARN!,
        message: (r) =>
          JSON.stringify({ seq: r.sequenceNumber, eventId: r.eventId, shardId: r.shardId }),
      }),
    ],
  });
  sink = {
    name: 'logged-sinks',
    ...(targets.effect ? { effect: targets.effect } : {}),
    write: async (records, context) => {
      const results = await targets.write(records, context);
      log(records.filter((_, i) => results[i]?.status === 'ok'));
      return results;
    },
  };
}
if (env.MODE === 'votes') {
  const votes = createVoteSummarySink({ client: ddb, summaryTable: env.SUMMARY_TABLE! });
  sink = {
    name: 'logged-votes',
    write: async (records, context) => {
      const results = await votes.write(records, context);
      log(records.filter((_, i) => results[i]?.status === 'ok'));
      return results;
    },
  };
}

const worker = createWorker({
  applicationName: env.APP!,
  workerId,
  sources: source,
  dynamoDBClient: ddb,
  leaseDurationMs: leaseMs,
  renewIntervalMs: Math.floor(leaseMs / 3),
  takeIntervalMs: 150,
  discoveryIntervalMs: 400,
  commitIntervalMs: 150,
  minReadIntervalMs: 20,
  maxIdleDelayMs: 100,
  shutdownTimeoutMs: 10_000,
  handleSignals: true,
  logger: {
    debug() {},
    info() {},
    warn(data: unknown, message?: string) {
      if (env.DEBUG_WARN)
        print('warn', { data: String((data as { err?: Error })?.err ?? ''), message });
    },
    error(data: unknown, message?: string) {
      print('error', { data: String((data as { err?: Error })?.err ?? ''), message });
    },
    child() {
      return this;
    },
  },
  ...(sink
    ? { sink }
    : {
        handler: async (record: ChangeRecord) => {
          log([record]);
        },
      }),
});
for (const name of [
  'lease.acquired',
  'lease.lost',
  'lease.released',
  'shard.started',
  'shard.ended',
  'record.parked',
  'record.retried',
] as const) {
  worker.events.on(name, (e) => print(name, e));
}
await worker.start();
print('started', { workerId });
