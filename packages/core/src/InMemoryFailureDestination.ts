import type { FailedRecord, ReplayableFailureDestination } from './contracts.js';

/** What an {@link InMemoryFailureDestination} holds, for assertions. */
export interface FailureDestinationMemory {
  readonly records: readonly FailedRecord[];
}

/**
 * A failure destination in process memory: for tests, the demo, and as a last resort that at
 * least keeps records visible. Not durable: use the SQS, SNS or S3 destinations in production.
 */
export class InMemoryFailureDestination
  implements ReplayableFailureDestination, FailureDestinationMemory
{
  readonly name = 'memory';
  readonly #records: FailedRecord[] = [];

  get records(): readonly FailedRecord[] {
    return this.#records;
  }

  async send(records: readonly FailedRecord[]): Promise<void> {
    this.#records.push(...records.map((r) => structuredClone(r)));
  }

  async receive(options: { maxRecords?: number } = {}) {
    const taken = this.#records.slice(0, options.maxRecords ?? this.#records.length);
    return taken.map((failed) => ({
      failed,
      acknowledge: async () => {
        const at = this.#records.indexOf(failed);
        if (at >= 0) this.#records.splice(at, 1);
      },
    }));
  }
}
