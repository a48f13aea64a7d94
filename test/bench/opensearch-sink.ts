/**
 * Benchmark (not a test): documents per second through OpenSearchSink into the OpenSearch double,
 * for several bulk sizes, each as a ratio to bulk size 1 measured in the same run.
 *
 *   npx tsc -b && npx tsx test/bench/opensearch-sink.ts
 *
 * The double answers in-process over loopback HTTP, so the figures measure the sink and the
 * client (serialization, one HTTP round trip per `_bulk`), not an OpenSearch cluster.
 */
import { Client } from '@opensearch-project/opensearch';
import {
  type ChangeRecord,
  type DynamoDBStreamRecordLike,
  decodeDynamoDBRecord,
} from '@shardline/core';
import { OpenSearchSink } from '@shardline/sink-opensearch';
import { makeDynamoDBRecord, startOpenSearchDouble } from '@shardline/testing';

const BULK_SIZES = [1, 10, 100, 500, 1000] as const;
const DOCUMENTS = 5000;
const ROUNDS = 3;

function records(run: number): ChangeRecord[] {
  return Array.from({ length: DOCUMENTS }, (_, i) => {
    const raw = makeDynamoDBRecord({
      keys: { pk: `user#${i}`, sk: run },
      newImage: { pk: `user#${i}`, sk: run, name: `name ${i}`, score: i * 3, tags: ['a', 'b'] },
    });
    return decodeDynamoDBRecord(raw as DynamoDBStreamRecordLike, {
      streamId: raw.eventSourceARN!,
      shardId: 'shardId-00000001',
    });
  });
}

async function main(): Promise<void> {
  const os = await startOpenSearchDouble();
  const client = new Client({ node: os.url });
  try {
    let run = 0;
    // Warm-up: JIT, sockets.
    await new OpenSearchSink({ client, index: 'warmup', maxBulkActions: 100 }).write(
      records(run++),
      {
        attempt: 1,
      },
    );
    const rates = new Map<number, number>();
    for (const size of BULK_SIZES) {
      const sink = new OpenSearchSink({ client, index: `bench-${size}`, maxBulkActions: size });
      let best = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const batch = records(run++);
        const started = process.hrtime.bigint();
        const results = await sink.write(batch, { attempt: 1 });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (results.some((r) => r.status !== 'ok')) throw new Error(`bulk size ${size}: failures`);
        best = Math.max(best, DOCUMENTS / seconds);
      }
      rates.set(size, best);
    }
    const baseline = rates.get(1)!;
    console.log(
      `OpenSearchSink → OpenSearch double, ${DOCUMENTS} documents per round, best of ${ROUNDS}`,
    );
    console.log('bulk size | documents/s | ratio to bulk size 1');
    for (const [size, rate] of rates) {
      console.log(
        `${String(size).padStart(9)} | ${rate.toFixed(0).padStart(11)} | ${(rate / baseline).toFixed(1)}×`,
      );
    }
  } finally {
    await client.close();
    await os.stop();
  }
}

await main();
