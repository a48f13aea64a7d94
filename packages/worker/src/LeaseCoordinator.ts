import {
  CHECKPOINT_RESET_OWNER,
  type Checkpoint,
  type CheckpointResets,
  ConfigurationError,
  describeCheckpoint,
  type EventBus,
  errorMessage,
  type Lease,
  LeaseLostError,
  type LeaseStore,
  type LeaseToken,
  type Logger,
  silentLogger,
  toError,
} from '@shardline/core';
import { type MonotonicClock, monotonicNow } from './clock.js';
import { parentsDone } from './parentsDone.js';
import { planBalance } from './planBalance.js';

/** What the coordinator tells its worker about leases. */
export interface LeaseListener {
  /**
   * The lease is this worker's and may be read (after any handover completed). `generation`
   * names this acquisition: the reader passes it to `commit`, `markLost` and `shardEnded`, so
   * a reader of an earlier acquisition of the same lease (still stopping after a checkpoint
   * reset dropped it and this worker took it again) can neither commit over the new
   * checkpoint nor drop the new ownership.
   */
  acquired(lease: Lease, generation: number): void;
  /** The lease was taken by another worker: stop its reader now, without a checkpoint. */
  lost(leaseKey: string, reason: string): void;
  /**
   * Another worker took the lease over gracefully: stop reading, finish in-flight records,
   * commit (the commit is allowed as the handover's final one), then call `finishHandover`.
   */
  handoverRequested(leaseKey: string): void;
}

/** Options of a {@link LeaseCoordinator}. */
export interface LeaseCoordinatorOptions {
  readonly store: LeaseStore;
  readonly workerId: string;
  readonly listener: LeaseListener;
  /** A lease not renewed for this long (by the observer's clock) is expired. @default 10_000 */
  readonly leaseDurationMs?: number;
  /** Most leases taken over from live workers in one round. @default half of the share, at least 1 */
  readonly maxLeasesToStealPerRound?: number;
  /** Most leases this worker holds. @default Infinity */
  readonly maxLeasesPerWorker?: number;
  /**
   * How long a worker that took a lease over for balance waits for the previous owner's final
   * checkpoint while that owner is alive (its heartbeat moves): it is finishing the records in
   * hand, and reading from the older checkpoint now would apply them twice. A previous owner
   * that looks dead (heartbeat unchanged for a lease duration) is waited for a lease duration
   * only. The KCL 3.x graceful handoff waits 30 s too. @default 30_000
   */
  readonly handoverTimeoutMs?: number;
  /** Least time between two steal rounds of this worker (lets published counts catch up). @default 2 × leaseDurationMs / 3 */
  readonly stealCooldownMs?: number;
  /**
   * The fleet lists the whole lease table about this often as a safety net (each worker every
   * `fullScanIntervalMs × live workers`, so the fleet's cost does not grow with its size).
   * Changes (a worker joined, left or died; leases created or ended) trigger a listing at once.
   * @default 60_000
   */
  readonly fullScanIntervalMs?: number;
  readonly clock?: MonotonicClock;
  readonly events?: EventBus;
  readonly logger?: Logger;
}

/** Defaults of {@link LeaseCoordinator}. */
export const DEFAULT_LEASE_DURATION_MS = 10_000;
/** @see LeaseCoordinatorOptions.fullScanIntervalMs */
export const DEFAULT_FULL_SCAN_INTERVAL_MS = 60_000;
/** @see LeaseCoordinatorOptions.handoverTimeoutMs */
export const DEFAULT_HANDOVER_TIMEOUT_MS = 30_000;

type OwnedState = 'active' | 'awaiting-handover' | 'handing-over';

interface Owned {
  /** This acquisition of the lease (unique within this coordinator). */
  readonly generation: number;
  token: LeaseToken;
  lease: Lease;
  state: OwnedState;
  /** Monotonic time the handover to this worker started. */
  handoverSince?: number;
}

interface Observation {
  counter: number;
  /** When this counter value was first seen. */
  since: number;
  /** When it was last seen (still unchanged). */
  seenAt: number;
}

/**
 * The lease logic of one worker, in rounds the worker drives on timers (and a simulation drives
 * on a fake clock):
 *
 * - `renewRound` renews every owned lease (one conditional write each), notices lost and
 *   handed-over leases, and moves this worker's heartbeat in the coordination item.
 * - `takeRound` reads the coordination item (one small read), lists the lease table only when
 *   the fleet changed (a worker joined, left or died, leases were created or ended) or every
 *   `fullScanIntervalMs`, takes available leases up to its share and steals to balance.
 *
 * Expiry is judged as the KCL does: by this worker's monotonic clock since it saw a counter
 * change — the lease counter, or the owner's heartbeat counter, which the owner moves in the
 * same round as its leases.
 */
export class LeaseCoordinator {
  readonly #store: LeaseStore;
  readonly #workerId: string;
  readonly #listener: LeaseListener;
  readonly #leaseDurationMs: number;
  readonly #maxSteals: number | undefined;
  readonly #maxLeases: number;
  readonly #stealCooldownMs: number;
  readonly #handoverTimeoutMs: number;
  readonly #fullScanIntervalMs: number;
  readonly #clock: MonotonicClock;
  readonly #events: EventBus | undefined;
  readonly #log: Logger;
  readonly #owned = new Map<string, Owned>();
  readonly #known = new Map<string, Lease>();
  readonly #leaseSeen = new Map<string, Observation>();
  readonly #workerSeen = new Map<string, Observation>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Leases an earlier run with this worker id held, by the counter seen at start. */
  readonly #inherited = new Map<string, number>();
  #liveIds = '';
  #leaseSetVersion: number | undefined;
  /** The checkpoint-reset version last seen; `undefined` before the first take round. */
  #resetVersion: number | undefined;
  /** Leases lost since the last reset was noticed, with their shard ids (for its log line). */
  readonly #lostSinceReset = new Map<string, string>();
  #lastScanAt: number | undefined;
  #lastStealAt = Number.NEGATIVE_INFINITY;
  #lastRenewedAt: number | undefined;
  #rounds = 0;
  #lastGeneration = 0;
  // Spreads the fleet's safety-net listings over the interval instead of in step.
  readonly #scanJitter = 0.75 + Math.random() / 2;

  constructor(options: LeaseCoordinatorOptions) {
    this.#store = options.store;
    this.#workerId = options.workerId;
    this.#listener = options.listener;
    this.#leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.#maxSteals = options.maxLeasesToStealPerRound;
    this.#maxLeases = options.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY;
    this.#stealCooldownMs = options.stealCooldownMs ?? (2 * this.#leaseDurationMs) / 3;
    this.#handoverTimeoutMs = Math.max(
      options.handoverTimeoutMs ?? DEFAULT_HANDOVER_TIMEOUT_MS,
      this.#leaseDurationMs,
    );
    this.#fullScanIntervalMs = options.fullScanIntervalMs ?? DEFAULT_FULL_SCAN_INTERVAL_MS;
    this.#clock = options.clock ?? monotonicNow;
    this.#events = options.events;
    this.#log = options.logger ?? silentLogger;
    if (!(this.#leaseDurationMs > 0)) {
      throw new ConfigurationError(
        `leaseDurationMs must be above 0, got ${String(this.#leaseDurationMs)}; the KCL default is 10000.`,
      );
    }
    if (
      this.#maxSteals !== undefined &&
      !(Number.isInteger(this.#maxSteals) && this.#maxSteals >= 1)
    ) {
      throw new ConfigurationError(
        `maxLeasesToStealPerRound must be a whole number of at least 1, got ${String(this.#maxSteals)}.`,
      );
    }
    if (!this.#workerId) throw new ConfigurationError('workerId must not be empty.');
  }

  /** This worker's id (the `leaseOwner` it writes). */
  get workerId(): string {
    return this.#workerId;
  }

  /** Leases this worker holds, active or in a handover. */
  get leaseCount(): number {
    let n = 0;
    for (const o of this.#owned.values()) if (o.state !== 'handing-over') n++;
    return n;
  }

  /** Keys of the leases this worker reads now. */
  activeLeaseKeys(): string[] {
    return [...this.#owned].filter(([, o]) => o.state === 'active').map(([k]) => k);
  }

  /** Every lease this worker knows of (from its last listing and its own writes). */
  knownLeases(): Lease[] {
    return [...this.#known.values()];
  }

  /** Monotonic time of the last renewal round that reached the store, if any. */
  get lastRenewedAt(): number | undefined {
    return this.#lastRenewedAt;
  }

  /** Rounds of `takeRound` so far. */
  get rounds(): number {
    return this.#rounds;
  }

  /**
   * Whether this worker holds the lease and may commit its checkpoint; with `generation`,
   * whether it holds it still by that acquisition (the one given to `acquired`).
   */
  holds(leaseKey: string, generation?: number): boolean {
    const owned = this.#owned.get(leaseKey);
    return owned !== undefined && (generation === undefined || owned.generation === generation);
  }

  /** The owned lease of this acquisition, or a {@link LeaseLostError} saying why not. */
  #ownedFor(leaseKey: string, generation: number | undefined): Owned {
    const owned = this.#owned.get(leaseKey);
    if (!owned) throw new LeaseLostError(leaseKey, 'this worker no longer holds it');
    if (generation !== undefined && owned.generation !== generation) {
      throw new LeaseLostError(
        leaseKey,
        `this reader's acquisition ${generation} ended; this worker holds it again as acquisition ${owned.generation}, read by a new reader from the lease's checkpoint`,
      );
    }
    return owned;
  }

  // ─── checkpoints ──────────────────────────────────────────────────────────────────────

  /**
   * Commits a checkpoint of an owned lease, fenced by owner and counter (serialized with the
   * lease's renewals, so they never race each other's counter). During a handover away from
   * this worker, the commit is the final one and is fenced on `checkpointOwner`.
   * @param generation The acquisition the committing reader was started for (given to
   *   `acquired`). A shard reader must pass it: the lease may have been dropped and taken
   *   again since (a checkpoint reset), and the old reader's position must not overwrite the
   *   new checkpoint. Without it the commit is made for whichever acquisition holds the lease.
   * @throws LeaseLostError when the lease is no longer this worker's, or no longer by `generation`.
   */
  async commit(leaseKey: string, checkpoint: Checkpoint, generation?: number): Promise<void> {
    const handedOver = await this.#withLock(leaseKey, async () => {
      const owned = this.#ownedFor(leaseKey, generation);
      const write = (handover: boolean) =>
        this.#store.commitCheckpoint(
          owned.lease.streamId,
          owned.lease.shardId,
          checkpoint,
          handover ? { ...owned.token, handover: true } : owned.token,
        );
      let handedOver = false;
      const asHandover = owned.state === 'handing-over';
      try {
        await write(asHandover);
      } catch (error) {
        // A steal for balance may land between two renewals: the commit is refused because the
        // lease names the thief now. That is a handover, not a loss: this worker still holds the
        // checkpoint, so it commits as the handover's side and finishes the handover.
        if (
          !(error instanceof LeaseLostError) ||
          asHandover ||
          this.#owned.get(leaseKey) !== owned
        ) {
          throw error;
        }
        if (owned.state === 'active') {
          const lease = await this.#store.getLease(leaseKey);
          if (
            !lease ||
            lease.leaseOwner === this.#workerId ||
            lease.checkpointOwner !== this.#workerId
          ) {
            throw error;
          }
          owned.state = 'handing-over';
          this.#log.info(
            { leaseKey, newOwner: lease.leaseOwner },
            'lease handed over during a commit; finishing',
          );
          handedOver = true;
        } else if (owned.state !== 'handing-over') {
          throw error;
        }
        // (Or a renewal noticed the handover while this commit was on the wire, and has told
        // the worker already: the commit is the handover's final one all the same.)
        await write(true);
      }
      owned.lease = { ...owned.lease, checkpoint };
      this.#known.set(leaseKey, owned.lease);
      return handedOver;
    });
    if (handedOver) this.#listener.handoverRequested(leaseKey);
  }

  // ─── renewal ──────────────────────────────────────────────────────────────────────────

  /** Renews every owned lease, then moves the heartbeat. */
  async renewRound(): Promise<void> {
    let reached = true;
    await Promise.all(
      [...this.#owned.keys()].map(async (leaseKey) => {
        try {
          await this.#renewOne(leaseKey);
        } catch (error) {
          reached = false;
          this.#log.warn(
            { err: toError(error), leaseKey },
            'lease renewal failed; retrying next round',
          );
        }
      }),
    );
    try {
      await this.#store.heartbeat(this.#workerId, this.leaseCount);
    } catch (error) {
      reached = false;
      this.#log.warn({ err: toError(error) }, 'heartbeat failed; retrying next round');
    }
    if (reached) this.#lastRenewedAt = this.#clock();
  }

  async #renewOne(leaseKey: string): Promise<void> {
    const owned = this.#owned.get(leaseKey);
    if (!owned || owned.state === 'handing-over') return;
    try {
      await this.#withLock(leaseKey, async () => {
        const current = this.#owned.get(leaseKey);
        if (current !== owned) return;
        owned.token = await this.#store.renewLease(owned.token);
      });
      this.#events?.emit('lease.renewed', { leaseKey, owner: this.#workerId });
    } catch (error) {
      if (!(error instanceof LeaseLostError)) throw error;
      const lease = await this.#store.getLease(leaseKey);
      if (
        lease &&
        lease.leaseOwner !== this.#workerId &&
        lease.checkpointOwner === this.#workerId
      ) {
        owned.state = 'handing-over';
        this.#log.info({ leaseKey, newOwner: lease.leaseOwner }, 'lease handed over; finishing');
        this.#listener.handoverRequested(leaseKey);
        return;
      }
      // Nobody but an operator's reset takes a live lease and leaves it ownerless (a worker
      // taking an expired lease writes its own name): say so rather than "lost".
      if (lease?.leaseOwner === undefined || lease.leaseOwner === CHECKPOINT_RESET_OWNER) {
        this.#dropLost(
          leaseKey,
          `its checkpoint is being reset by \`shardline checkpoints reset\` (${error.message})`,
          'info',
        );
        return;
      }
      this.#dropLost(leaseKey, error.message);
      return;
    }
    if (owned.state === 'awaiting-handover') await this.#checkHandover(leaseKey, owned);
  }

  async #checkHandover(leaseKey: string, owned: Owned): Promise<void> {
    const lease = await this.#store.getLease(leaseKey);
    if (!lease || lease.leaseOwner !== this.#workerId) return; // next renewal notices the loss
    const waited = this.#clock() - (owned.handoverSince ?? this.#clock());
    if (lease.checkpointOwner !== undefined) {
      // A live previous owner is finishing the records in hand (a slow sink, a big page): wait
      // for its final checkpoint, up to the handover timeout. One that looks dead is waited
      // for a lease duration, as an expired lease would be.
      const previous = this.#workerSeen.get(lease.checkpointOwner);
      const alive = previous !== undefined && !this.#isExpiredObservation(previous);
      if (waited < (alive ? this.#handoverTimeoutMs : this.#leaseDurationMs)) return;
      // From here on the previous owner's final commit is refused.
      this.#log.warn(
        { leaseKey, previousOwner: lease.checkpointOwner, waitedMs: waited, previousAlive: alive },
        alive
          ? 'handover timed out: the previous owner is alive but did not commit its final checkpoint in time; reading from its last checkpoint (records after it may be applied twice)'
          : 'handover timed out: the previous owner looks dead; reading from its last checkpoint',
      );
      await this.#store.completeHandover(leaseKey, lease.checkpointOwner);
    }
    owned.state = 'active';
    owned.lease = { ...lease, checkpointOwner: undefined };
    this.#known.set(leaseKey, owned.lease);
    this.#listener.acquired(owned.lease, owned.generation);
  }

  /** The previous owner's side of a handover: its final checkpoint is committed. */
  async finishHandover(leaseKey: string): Promise<void> {
    if (this.#owned.get(leaseKey)?.state !== 'handing-over') return;
    this.#owned.delete(leaseKey);
    await this.#store.completeHandover(leaseKey, this.#workerId);
    this.#events?.emit('lease.released', { leaseKey, owner: this.#workerId });
  }

  /**
   * Forgets a lease whose loss the worker detected (a commit refused with `LeaseLostError`).
   * With `generation`, only that acquisition is forgotten: a reader of an earlier one failing
   * late does not drop the lease this worker has taken again since.
   */
  markLost(leaseKey: string, reason: string, generation?: number): void {
    if (this.holds(leaseKey, generation)) this.#dropLost(leaseKey, reason);
  }

  #dropLost(leaseKey: string, reason: string, level: 'warn' | 'info' = 'warn'): void {
    const owned = this.#owned.get(leaseKey);
    this.#owned.delete(leaseKey);
    this.#lostSinceReset.set(leaseKey, owned?.lease.shardId ?? leaseKey);
    this.#events?.emit('lease.lost', { leaseKey, owner: this.#workerId, reason });
    this.#log[level]({ leaseKey, reason }, 'lease lost');
    this.#listener.lost(leaseKey, reason);
  }

  /**
   * Acts on a checkpoint reset made since the last round (`shardline checkpoints reset` took
   * the leases, wrote their checkpoints, released them and moved the reset version): the
   * reader of each such lease this worker still holds is dropped without a commit (its
   * position in memory is no longer the checkpoint), and the lease is offered again by this
   * round, so it is read from the new checkpoint within one take interval. The first round
   * only records the version: a reset before this worker started is in the leases already.
   */
  async #noticeResets(resets: CheckpointResets | undefined): Promise<void> {
    const version = resets?.version ?? 0;
    if (version === this.#resetVersion) return;
    const first = this.#resetVersion === undefined;
    this.#resetVersion = version;
    const lost = new Map(this.#lostSinceReset);
    this.#lostSinceReset.clear();
    if (first || !resets) return;
    for (const [leaseKey, checkpoint] of resets.leases) {
      const owned = this.#owned.get(leaseKey);
      const shardId = owned?.lease.shardId ?? lost.get(leaseKey);
      if (shardId === undefined) continue; // another worker's shard
      this.#log.info(
        { leaseKey, shardId, checkpoint: describeCheckpoint(checkpoint) },
        `checkpoint of shard ${shardId} reset to ${describeCheckpoint(checkpoint)} by \`shardline checkpoints reset\`; restarting the shard there`,
      );
      if (owned) {
        const reason = `its checkpoint was reset to ${describeCheckpoint(checkpoint)} by \`shardline checkpoints reset\``;
        this.#owned.delete(leaseKey);
        this.#events?.emit('lease.lost', { leaseKey, owner: this.#workerId, reason });
        this.#listener.lost(leaseKey, reason);
        // The reset fenced this worker's token, unless this worker took the lease again between
        // the reset's release and its signal: then the release frees it for this round's take.
        await this.#withLock(leaseKey, () => this.#store.releaseLease(owned.token)).catch(
          () => undefined,
        );
      }
    }
  }

  // ─── taking and balancing ─────────────────────────────────────────────────────────────

  /** Reads the coordination item; lists leases if the fleet changed; takes and steals. */
  async takeRound(): Promise<void> {
    this.#rounds++;
    const now = this.#clock();
    const fleet = await this.#store.readFleet();
    await this.#noticeResets(fleet.checkpointResets);
    const live: { workerId: string; leaseCount: number }[] = [];
    const dead = new Map<string, number>();
    for (const w of fleet.workers) {
      if (w.workerId === this.#workerId) continue;
      if (this.#expired(this.#workerSeen, w.workerId, w.heartbeat, now))
        dead.set(w.workerId, w.heartbeat);
      else live.push({ workerId: w.workerId, leaseCount: w.leaseCount });
    }
    for (const id of this.#workerSeen.keys()) {
      if (!fleet.workers.some((w) => w.workerId === id)) this.#workerSeen.delete(id);
    }
    live.push({ workerId: this.#workerId, leaseCount: this.leaseCount });
    const liveIds = live
      .map((w) => w.workerId)
      .sort()
      .join('\n');
    const scanDue =
      this.#lastScanAt === undefined ||
      fleet.leaseSetVersion !== this.#leaseSetVersion ||
      liveIds !== this.#liveIds ||
      now - this.#lastScanAt >= this.#fullScanIntervalMs * live.length * this.#scanJitter;
    this.#liveIds = liveIds;
    if (scanDue) {
      this.#leaseSetVersion = fleet.leaseSetVersion;
      await this.#scan(now);
    }
    for (const [workerId, heartbeat] of dead) {
      if (![...this.#known.values()].some((l) => l.leaseOwner === workerId)) {
        await this.#store.removeWorker(workerId, heartbeat);
      }
    }
    const available = this.#available(dead);
    const share = Math.ceil((this.#known.size - this.#ended()) / Math.max(1, live.length));
    const plan = planBalance({
      workers: live,
      self: this.#workerId,
      available: available.length,
      maxSteals: this.#maxSteals ?? Math.max(1, Math.ceil(share / 2)),
      maxLeasesPerWorker: this.#maxLeases,
    });
    let changed = false;
    for (const lease of shuffle(available)) {
      if (this.leaseCount >= Math.min(plan.target, this.#maxLeases) || !plan.take) break;
      changed =
        (await this.#take(
          lease,
          dead.has(lease.leaseOwner ?? '') ? lease.leaseOwner : undefined,
        )) || changed;
    }
    if (plan.steals.length > 0 && now - this.#lastStealAt >= this.#stealCooldownMs) {
      this.#lastStealAt = now;
      for (const { victim, count } of plan.steals) {
        changed = (await this.#steal(victim, count)) || changed;
      }
    }
    if (changed) await this.#store.heartbeat(this.#workerId, this.leaseCount);
  }

  async #scan(now: number): Promise<void> {
    const leases = await this.#store.listLeases();
    if (this.#lastScanAt === undefined) {
      // Leases naming this worker before it took anything are an earlier run's (a process
      // restarted with the same worker id): its heartbeat is this worker's own, so they would
      // never look expired. They are taken back at once, as the KCL's renewer does at start,
      // fenced on the counter read here: if that run is somehow still alive and renews, the
      // counter moves and the lease is no longer offered.
      for (const lease of leases) {
        if (lease.leaseOwner === this.#workerId && !this.#owned.has(lease.leaseKey)) {
          this.#inherited.set(lease.leaseKey, lease.leaseCounter);
        }
      }
    }
    this.#lastScanAt = now;
    this.#known.clear();
    for (const lease of leases) {
      this.#known.set(lease.leaseKey, lease);
      this.#expired(this.#leaseSeen, lease.leaseKey, lease.leaseCounter, now);
    }
    for (const key of this.#leaseSeen.keys())
      if (!this.#known.has(key)) this.#leaseSeen.delete(key);
  }

  #ended(): number {
    let n = 0;
    for (const l of this.#known.values()) if (l.checkpoint === 'SHARD_END') n++;
    return n;
  }

  #available(dead: Map<string, number>): Lease[] {
    const out: Lease[] = [];
    for (const lease of this.#known.values()) {
      if (lease.checkpoint === 'SHARD_END' || this.#owned.has(lease.leaseKey)) continue;
      const free =
        lease.leaseOwner === undefined ||
        dead.has(lease.leaseOwner) ||
        this.#inherited.get(lease.leaseKey) === lease.leaseCounter ||
        (lease.leaseOwner !== this.#workerId &&
          this.#isExpiredObservation(this.#leaseSeen.get(lease.leaseKey)));
      if (!free) continue;
      if (!parentsDone(lease, this.#known, this.#store)) continue;
      out.push(lease);
    }
    return out;
  }

  async #take(lease: Lease, deadOwner: string | undefined): Promise<boolean> {
    const taken = await this.#store.takeLease(lease.leaseKey, this.#workerId, lease.leaseCounter);
    if (!taken) {
      // Someone else moved it. Forgetting the lease would make a child of this shard look
      // ready (a parent missing from `#known` counts as done) and make discovery create the
      // child's lease at the configured initial position; keeping the stale copy would offer
      // it as free again and hold back balancing (which steals only when none is free). So
      // read what it is now: one read, after a lost race only.
      const now = await this.#store.getLease(lease.leaseKey);
      this.#inherited.delete(lease.leaseKey);
      if (now) {
        this.#known.set(now.leaseKey, now);
        this.#expired(this.#leaseSeen, now.leaseKey, now.leaseCounter, this.#clock());
      } else {
        this.#known.delete(lease.leaseKey);
        this.#leaseSeen.delete(lease.leaseKey);
      }
      return false;
    }
    this.#inherited.delete(lease.leaseKey);
    this.#known.set(taken.leaseKey, taken);
    const generation = ++this.#lastGeneration;
    this.#owned.set(taken.leaseKey, {
      generation,
      token: { leaseKey: taken.leaseKey, owner: this.#workerId, leaseCounter: taken.leaseCounter },
      lease: taken,
      state: 'active',
    });
    this.#events?.emit('lease.acquired', {
      leaseKey: taken.leaseKey,
      owner: this.#workerId,
      stolenFrom: deadOwner ?? lease.leaseOwner,
    });
    this.#listener.acquired(taken, generation);
    return true;
  }

  async #steal(victim: string, count: number): Promise<boolean> {
    const leases = (await this.#store.listLeasesByOwner(victim)).filter(
      (l) => l.checkpoint !== 'SHARD_END' && l.checkpointOwner === undefined,
    );
    let stolen = 0;
    for (const lease of shuffle(leases)) {
      if (stolen >= count || this.leaseCount >= this.#maxLeases) break;
      const taken = await this.#store.handoverLease(
        lease.leaseKey,
        victim,
        this.#workerId,
        lease.leaseCounter,
      );
      if (!taken) continue; // renewed meanwhile: try another, or next round
      stolen++;
      this.#known.set(taken.leaseKey, taken);
      this.#owned.set(taken.leaseKey, {
        generation: ++this.#lastGeneration,
        token: {
          leaseKey: taken.leaseKey,
          owner: this.#workerId,
          leaseCounter: taken.leaseCounter,
        },
        lease: taken,
        state: 'awaiting-handover',
        handoverSince: this.#clock(),
      });
      this.#events?.emit('lease.acquired', {
        leaseKey: taken.leaseKey,
        owner: this.#workerId,
        stolenFrom: victim,
      });
    }
    if (stolen > 0) this.#log.info({ victim, stolen }, 'took leases over to balance the fleet');
    return stolen > 0;
  }

  // ─── shard lifecycle ──────────────────────────────────────────────────────────────────

  /** Creates a lease for a shard this worker discovered; returns whether it was new. */
  async createLease(
    lease: Omit<Lease, 'leaseCounter' | 'leaseOwner' | 'ownerSwitchesSinceCheckpoint'>,
  ): Promise<boolean> {
    if (this.#known.has(lease.leaseKey)) return false;
    const created = await this.#store.createLeaseIfNotExists(lease);
    this.#known.set(lease.leaseKey, {
      ...lease,
      leaseOwner: undefined,
      leaseCounter: 0,
      ownerSwitchesSinceCheckpoint: 0,
    });
    return created;
  }

  /** Whether a lease for this key is known. */
  knows(leaseKey: string): boolean {
    return this.#known.has(leaseKey);
  }

  /** Deletes a lease (an ended shard the stream no longer lists). */
  async deleteLease(leaseKey: string): Promise<void> {
    await this.#store.deleteLease(leaseKey);
    this.#known.delete(leaseKey);
    this.#leaseSeen.delete(leaseKey);
  }

  /** Tells the fleet the lease set changed, so every worker lists it again. */
  async noteLeaseSetChanged(): Promise<void> {
    await this.#store.noteLeaseSetChanged();
  }

  /**
   * A shard of an owned lease reached SHARD_END (committed): records its children, releases
   * the lease, so it no longer counts toward this worker's share, and tells the fleet the lease
   * set changed: the other workers' listings still show the parent open, and without a new
   * listing a child this worker does not take would wait for the safety-net scan.
   * With `generation`, nothing is done unless the lease is still held by that acquisition.
   */
  async shardEnded(
    leaseKey: string,
    childShardIds: readonly string[],
    generation?: number,
  ): Promise<void> {
    const ended = await this.#withLock(leaseKey, async () => {
      const owned = this.#owned.get(leaseKey);
      if (!owned || (generation !== undefined && owned.generation !== generation)) return false;
      if (childShardIds.length > 0) await this.#store.setChildShardIds(owned.token, childShardIds);
      await this.#store.releaseLease(owned.token);
      this.#owned.delete(leaseKey);
      this.#known.set(leaseKey, {
        ...owned.lease,
        checkpoint: 'SHARD_END',
        leaseOwner: undefined,
        leaseCounter: owned.token.leaseCounter + 1,
        childShardIds: [...new Set([...owned.lease.childShardIds, ...childShardIds])],
      });
      this.#events?.emit('lease.released', { leaseKey, owner: this.#workerId });
      return true;
    });
    if (ended) await this.#store.noteLeaseSetChanged();
  }

  /** Releases one owned lease (fenced), so any worker may take it at once. */
  async release(leaseKey: string): Promise<void> {
    await this.#withLock(leaseKey, async () => {
      const owned = this.#owned.get(leaseKey);
      if (!owned) return;
      this.#owned.delete(leaseKey);
      try {
        if (owned.state === 'handing-over') {
          await this.#store.completeHandover(leaseKey, this.#workerId);
        } else {
          await this.#store.releaseLease(owned.token);
        }
        this.#events?.emit('lease.released', { leaseKey, owner: this.#workerId });
      } catch (error) {
        if (!(error instanceof LeaseLostError)) throw error;
      }
    });
  }

  /** Releases every lease and leaves the fleet (graceful shutdown). */
  async releaseAll(): Promise<void> {
    const results = await Promise.allSettled([...this.#owned.keys()].map((k) => this.release(k)));
    for (const r of results) {
      if (r.status === 'rejected') this.#log.warn({ err: toError(r.reason) }, 'release failed');
    }
    try {
      await this.#store.removeWorker(this.#workerId);
      await this.#store.noteLeaseSetChanged();
    } catch (error) {
      this.#log.warn({ err: toError(error) }, `could not leave the fleet: ${errorMessage(error)}`);
    }
  }

  // ─── helpers ──────────────────────────────────────────────────────────────────────────

  /** Records a counter observation; true when it has not changed for a lease duration. */
  #expired(seen: Map<string, Observation>, key: string, counter: number, now: number): boolean {
    const previous = seen.get(key);
    if (!previous || previous.counter !== counter) {
      seen.set(key, { counter, since: now, seenAt: now });
      return false;
    }
    previous.seenAt = now;
    return now - previous.since > this.#leaseDurationMs;
  }

  /**
   * Expired only if the counter was seen unchanged across more than a lease duration: time
   * passing without a new look proves nothing (the table is listed rarely).
   */
  #isExpiredObservation(observation: Observation | undefined): boolean {
    return (
      observation !== undefined && observation.seenAt - observation.since > this.#leaseDurationMs
    );
  }

  async #withLock<T>(leaseKey: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(leaseKey) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.#locks.set(leaseKey, settled);
    try {
      return await run;
    } finally {
      if (this.#locks.get(leaseKey) === settled) this.#locks.delete(leaseKey);
    }
  }
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
