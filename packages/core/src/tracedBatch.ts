import { createRequire } from 'node:module';
import type * as OpenTelemetryApi from '@opentelemetry/api';
import type { ChangeRecord } from './ChangeRecord.js';

/** What a batch span records when the batch is done. */
export interface BatchSpanSummary {
  readonly succeeded: number;
  readonly failed: number;
  readonly parked: number;
  readonly duplicates: number;
  readonly filtered: number;
  readonly blocked: number;
}

/** The span's name: one per batch (`BatchProcessor.process` call) in both runtimes. */
export const BATCH_SPAN_NAME = 'shardline.batch';

// An optional peer dependency, loaded once per process, synchronously (no batch waits for a
// module load; the API keeps its provider on a global, so any copy of it sees the application's),
// and named through a variable so that bundlers leave it out when it is not installed.
const API_MODULE = '@opentelemetry/api';
let tracer: OpenTelemetryApi.Tracer | null | undefined;
let codes: typeof OpenTelemetryApi.SpanStatusCode | undefined;

function load(): OpenTelemetryApi.Tracer | null {
  try {
    const api = createRequire(import.meta.url)(API_MODULE) as typeof OpenTelemetryApi;
    codes = api.SpanStatusCode;
    // A proxy tracer: it follows whatever provider the application registers, even later.
    return api.trace.getTracer('@shardline/core');
  } catch {
    return null;
  }
}

/**
 * Runs one batch inside an OpenTelemetry span when `@opentelemetry/api` is installed (a no-op
 * otherwise, and a no-op tracer until the application registers a provider): `shardline.batch`,
 * active while the handler or sink runs (so their own spans are its children), with the stream,
 * shard, first and last sequence numbers, the record count and what became of the records; the
 * status is an error when records failed.
 */
export function tracedBatch<T extends BatchSpanSummary>(
  records: readonly ChangeRecord[],
  run: () => Promise<T>,
): Promise<T> {
  if (tracer === undefined) tracer = load();
  const first = records[0];
  if (tracer === null || !first) return run();
  const last = records[records.length - 1]!;
  return tracer.startActiveSpan(
    BATCH_SPAN_NAME,
    {
      attributes: {
        'shardline.stream': first.streamId,
        'shardline.shard': first.shardId,
        'shardline.source': first.source,
        'shardline.first_sequence_number': first.sequenceNumber,
        'shardline.last_sequence_number': last.sequenceNumber,
        'shardline.records': records.length,
      },
    },
    async (span) => {
      try {
        const result = await run();
        span.setAttributes({
          'shardline.succeeded': result.succeeded,
          'shardline.failed': result.failed,
          'shardline.parked': result.parked,
          'shardline.duplicates': result.duplicates,
          'shardline.filtered': result.filtered,
          'shardline.blocked': result.blocked,
        });
        if (result.failed > 0) {
          span.setStatus({
            code: codes!.ERROR,
            message: `${result.failed} of ${records.length} records failed`,
          });
        }
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: codes!.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
