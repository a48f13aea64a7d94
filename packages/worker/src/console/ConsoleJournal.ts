import type { EventBus, FailedRecord, FailureDestination } from '@shardline/core';
import type { ConsoleErrorEntry, ConsoleParkedRecord } from './ConsoleState.js';

/** Options of {@link ConsoleJournal}. */
export interface ConsoleJournalOptions {
  /** Entries kept of each kind (parked records, errors). @default 50 */
  readonly capacity?: number;
  /**
   * Keep the parked records' images (the record as delivered) for the console. Off by default:
   * images may hold personal data, and the console shows keys, positions and errors only.
   * @default false
   */
  readonly showRecordImages?: boolean;
}

/** Longest error message kept, in characters; longer ones are cut with an ellipsis. */
const MAX_MESSAGE = 500;

/**
 * The console's memory of recent parked records and errors, fed by the worker's typed events
 * (`record.parked`, `record.failed`, `lease.lost`, `shard.dataTrimmed`). Bounded: the newest
 * `capacity` entries of each kind. Events carry no record images, so by default nothing the
 * journal holds can leak one; {@link ConsoleJournal.captureImages} adds them when asked for.
 */
export class ConsoleJournal {
  readonly #capacity: number;
  readonly #showRecordImages: boolean;
  readonly #parked: ConsoleParkedRecord[] = [];
  readonly #errors: ConsoleErrorEntry[] = [];
  /** Images of parked records by `shardId/sequenceNumber`, only with showRecordImages. */
  readonly #images = new Map<string, unknown>();

  constructor(options: ConsoleJournalOptions = {}) {
    this.#capacity = options.capacity ?? 50;
    this.#showRecordImages = options.showRecordImages ?? false;
  }

  /** Subscribes to a worker's events; returns a function that unsubscribes. */
  subscribe(events: EventBus): () => void {
    const offs = [
      events.on('record.parked', (e) =>
        this.#push(this.#parked, {
          at: new Date().toISOString(),
          shardId: e.shardId,
          sequenceNumber: e.sequenceNumber,
          key: e.orderingKey,
          attempts: e.attempts,
          error: describeError(e.error),
        }),
      ),
      events.on('record.failed', (e) =>
        this.error(
          'record.failed',
          e.shardId,
          `record ${e.sequenceNumber} (key ${e.orderingKey}) failed after ${e.attempts} attempt(s); the shard retries it: ${describeError(e.error)}`,
        ),
      ),
      events.on('lease.lost', (e) =>
        this.error('lease.lost', shardOfLeaseKey(e.leaseKey), `lease lost: ${e.reason}`),
      ),
      events.on('shard.dataTrimmed', (e) =>
        this.error(
          'shard.dataTrimmed',
          e.shardId,
          `records after ${e.afterSequenceNumber ?? 'the start'} were trimmed before they were read (policy ${e.policy})`,
        ),
      ),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /**
   * Wraps the worker's failure destination so the console can show parked records' images: a
   * no-op (the destination itself is returned) unless `showRecordImages` is on.
   */
  captureImages(destination: FailureDestination): FailureDestination;
  captureImages(destination: FailureDestination | undefined): FailureDestination | undefined;
  captureImages(destination: FailureDestination | undefined): FailureDestination | undefined {
    if (!destination || !this.#showRecordImages) return destination;
    return {
      name: destination.name,
      send: async (records: readonly FailedRecord[], signal?: AbortSignal) => {
        await destination.send(records, signal);
        for (const r of records) {
          this.#images.set(`${r.shardId}/${r.sequenceNumber}`, r.record);
          if (this.#images.size > this.#capacity) {
            this.#images.delete(this.#images.keys().next().value as string);
          }
        }
      },
    };
  }

  /** Notes an error or warning. */
  error(kind: string, shardId: string | null, message: string): void {
    this.#push(this.#errors, {
      at: new Date().toISOString(),
      kind,
      shardId,
      message: cut(message),
    });
  }

  /** Recent parked records, newest first (with images only when enabled). */
  parked(): ConsoleParkedRecord[] {
    return this.#parked.map((p) => {
      const record = this.#images.get(`${p.shardId}/${p.sequenceNumber}`);
      return record === undefined ? p : { ...p, record };
    });
  }

  /** Recent errors, newest first. */
  errors(): ConsoleErrorEntry[] {
    return [...this.#errors];
  }

  #push<T>(list: T[], entry: T): void {
    list.unshift(entry);
    if (list.length > this.#capacity) list.length = this.#capacity;
  }
}

function describeError(error: Error): string {
  return cut(`${error.name}: ${error.message}`);
}

function cut(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}

/** The shard id in a lease key (a bare shard id, or KCL's `<stream>:<shard>` forms). */
function shardOfLeaseKey(leaseKey: string): string {
  return leaseKey.slice(leaseKey.lastIndexOf(':') + 1);
}
