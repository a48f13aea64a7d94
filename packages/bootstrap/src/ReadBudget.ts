import { ConfigurationError, sleep } from '@shardline/core';

/** Options of a {@link ReadBudget}. */
export interface ReadBudgetOptions {
  /** Read capacity units per second the reads may consume, on average. Above 0. */
  readonly unitsPerSecond: number;
  /**
   * The most units that may be saved up while reads are idle, so a pause is not followed by a
   * burst above the budget. @default unitsPerSecond (one second of budget)
   */
  readonly burstUnits?: number;
  /** Now, in epoch ms (tests). @default Date.now */
  readonly clock?: () => number;
}

/**
 * A token bucket of read capacity units, shared by every segment a process scans: it fills at
 * `unitsPerSecond` up to `burstUnits`. Before a Scan page, a segment reserves the units it
 * means to spend (waiting until the bucket holds them) and sizes the page's `Limit` to them;
 * once the page is back, {@link settle} replaces the reservation with the page's actual
 * `ConsumedCapacity`. Reserving first keeps concurrent segments from spending the same units;
 * settling with the actual cost keeps the average within the budget whatever the items weigh
 * (a page that cost more than reserved leaves the bucket in debt, and the next page waits).
 *
 * Why not core's `CallPacer`: it spaces calls evenly, whatever they cost; a Scan page costs
 * from 0.5 to 128 units, known only from its response.
 */
export class ReadBudget {
  readonly unitsPerSecond: number;
  readonly burstUnits: number;
  readonly #clock: () => number;
  #units: number;
  #at: number;

  constructor(options: ReadBudgetOptions) {
    const rate = options?.unitsPerSecond;
    if (!(typeof rate === 'number' && Number.isFinite(rate) && rate > 0)) {
      throw new ConfigurationError(
        `ReadBudget unitsPerSecond must be a number above 0, got ${String(rate)}; it is readPercent × the table's read capacity.`,
      );
    }
    const burst = options.burstUnits ?? rate;
    if (!(Number.isFinite(burst) && burst > 0)) {
      throw new ConfigurationError(
        `ReadBudget burstUnits must be a number above 0, got ${String(burst)}; leave it unset for one second of budget.`,
      );
    }
    this.unitsPerSecond = rate;
    this.burstUnits = burst;
    this.#clock = options.clock ?? Date.now;
    // Start empty: a bootstrap that starts while the table is busy gets no head start.
    this.#units = 0;
    this.#at = this.#clock();
  }

  /** Units available now (negative while in debt). */
  get available(): number {
    this.#refill();
    return this.#units;
  }

  /**
   * Waits until the bucket holds `units` (capped at `burstUnits`), takes them, and resolves
   * with what it took; rejects when `signal` aborts.
   */
  async reserve(units: number, signal?: AbortSignal): Promise<number> {
    const wanted = Math.min(Math.max(units, 0), this.burstUnits);
    for (;;) {
      this.#refill();
      if (this.#units >= wanted) {
        this.#units -= wanted;
        return wanted;
      }
      const waitMs = Math.ceil(((wanted - this.#units) / this.unitsPerSecond) * 1000);
      await sleep(Math.max(1, waitMs), signal);
    }
  }

  /** Replaces a reservation with what the read consumed (`ConsumedCapacity.CapacityUnits`). */
  settle(reserved: number, consumed: number): void {
    this.#refill();
    this.#units = Math.min(this.burstUnits, this.#units + reserved - Math.max(0, consumed));
  }

  #refill(): void {
    const now = this.#clock();
    const elapsed = now - this.#at;
    if (elapsed <= 0) return;
    this.#at = now;
    this.#units = Math.min(this.burstUnits, this.#units + (elapsed / 1000) * this.unitsPerSecond);
  }
}

/**
 * The `Limit` of a page that should cost about `units`, given what one item cost so far
 * (`unitsPerItem`, 0 while unknown: then one item, to learn it); between 1 and `max`.
 */
export function pageLimitFor(units: number, unitsPerItem: number, max: number): number {
  if (!(unitsPerItem > 0)) return 1;
  return Math.max(1, Math.min(max, Math.floor(units / unitsPerItem)));
}
