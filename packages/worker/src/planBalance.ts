/** One live worker and how many leases it holds, as the coordination item says. */
export interface WorkerLoad {
  readonly workerId: string;
  readonly leaseCount: number;
}

/** Input of {@link planBalance}. */
export interface BalanceInput {
  /** Every live worker, this one included (with its exact count). */
  readonly workers: readonly WorkerLoad[];
  /** This worker's id. */
  readonly self: string;
  /** Leases anyone may take now: unowned, expired, or held by a dead worker. */
  readonly available: number;
  /** Most leases to steal in one round. */
  readonly maxSteals: number;
  /** Most leases one worker holds. @default Infinity */
  readonly maxLeasesPerWorker?: number;
}

/** What this worker should do this round. */
export interface BalancePlan {
  /** This worker's share: floor or ceil of (leases / workers). */
  readonly target: number;
  /** How many available leases to take. */
  readonly take: number;
  /** Leases to take over gracefully from over-loaded workers, by victim. */
  readonly steals: readonly { readonly victim: string; readonly count: number }[];
}

/**
 * Plans one worker's round of lease balancing from the fleet's published lease counts.
 *
 * Every worker computes the same targets from the same snapshot: the `total % workers` workers
 * that hold the most leases (ties by id) keep the larger share, so a fleet whose spread is at
 * most one moves nothing (no thrash). Available leases are taken first; a worker steals only
 * when nothing is available, and thieves are matched to victims deterministically (both sorted
 * by id), so two thieves do not drain the same victim below its share. A new worker steals up
 * to `maxSteals` per round, from every over-loaded worker at once — not one lease per round.
 */
export function planBalance(input: BalanceInput): BalancePlan {
  const workers = [...input.workers].sort((a, b) => cmp(a.workerId, b.workerId));
  const total = workers.reduce((sum, w) => sum + w.leaseCount, 0) + input.available;
  const cap = input.maxLeasesPerWorker ?? Number.POSITIVE_INFINITY;
  const base = Math.floor(total / workers.length);
  const extra = total % workers.length;
  const byLoad = [...workers].sort(
    (a, b) => b.leaseCount - a.leaseCount || cmp(a.workerId, b.workerId),
  );
  const targets = new Map<string, number>();
  byLoad.forEach((w, i) => {
    targets.set(w.workerId, Math.min(cap, base + (i < extra ? 1 : 0)));
  });
  const self = workers.find((w) => w.workerId === input.self);
  const target = targets.get(input.self) ?? 0;
  const held = self?.leaseCount ?? 0;
  const deficit = Math.max(0, target - held);
  if (input.available > 0) {
    return { target, take: Math.min(deficit, input.available), steals: [] };
  }
  if (deficit === 0) return { target, take: 0, steals: [] };
  const victims = workers
    .map((w) => ({ workerId: w.workerId, excess: w.leaseCount - (targets.get(w.workerId) ?? 0) }))
    .filter((v) => v.excess > 0);
  const steals: { victim: string; count: number }[] = [];
  let v = 0;
  for (const thief of workers) {
    let need = (targets.get(thief.workerId) ?? 0) - thief.leaseCount;
    while (need > 0 && v < victims.length) {
      const victim = victims[v]!;
      const n = Math.min(need, victim.excess);
      if (thief.workerId === input.self) steals.push({ victim: victim.workerId, count: n });
      need -= n;
      victim.excess -= n;
      if (victim.excess === 0) v++;
    }
    if (thief.workerId === input.self) break;
  }
  let budget = input.maxSteals;
  const bounded = [];
  for (const s of steals) {
    if (budget <= 0) break;
    const count = Math.min(s.count, budget);
    bounded.push({ victim: s.victim, count });
    budget -= count;
  }
  return { target, take: 0, steals: bounded };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
