import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactEventId } from '../../src/Deduper.js';
import {
  ConfigurationError,
  DEFAULT_MAX_EVENT_IDS,
  DEFAULT_MAX_KEY_VERSIONS,
  Deduper,
  sampledHash,
} from '../../src/index.js';

describe('Deduper', () => {
  it('never drops the first occurrence, and drops a repeat of an applied record', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.integer({ min: 0, max: 40 }), applied: fc.boolean() }), {
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 50 }),
        (events, window) => {
          // arrange
          const deduper = new Deduper({ maxEventIds: window });
          const appliedIds = new Set<string>();
          for (const { id, applied } of events) {
            const record = {
              eventId: `e${id}`,
              version: undefined,
              tableName: 'T',
              marshalledKeys: undefined,
            };
            // act
            const reason = deduper.check(record);
            // assert: an id never applied before is never dropped
            if (!appliedIds.has(record.eventId)) expect(reason).toBeUndefined();
            if (reason === undefined && applied) {
              deduper.remember(record);
              appliedIds.add(record.eventId);
            }
          }
          expect(deduper.size.eventIds).toBeLessThanOrEqual(window);
        },
      ),
    );
  });

  const change = (eventId: string, id: string, version: bigint, tableName = 'Votes') => ({
    eventId,
    version,
    tableName,
    marshalledKeys: { id: { S: id } },
  });

  it('drops a change older than the newest applied change of its item, when asked to', () => {
    const deduper = new Deduper();
    deduper.remember(change('b', 'x', 20n));
    expect(deduper.check(change('a', 'x', 10n), 'drop')).toBe('stale');
    expect(deduper.check(change('c', 'x', 30n), 'drop')).toBeUndefined();
    expect(deduper.check(change('d', 'other', 1n), 'drop')).toBeUndefined();
    expect(deduper.check(change('e', 'x', 1n, 'Other'), 'drop')).toBeUndefined();
  });

  it('never calls a change stale unless asked to (delta targets need every change)', () => {
    const deduper = new Deduper();
    deduper.remember(change('b', 'x', 20n));
    expect(deduper.check(change('a', 'x', 10n))).toBeUndefined();
    expect(deduper.check(change('a', 'x', 10n), 'apply')).toBeUndefined();
    expect(deduper.check(change('b', 'x', 20n))).toBe('seen');
  });

  it('keeps at most maxKeyVersions items', () => {
    const deduper = new Deduper({ maxKeyVersions: 3 });
    for (let i = 0; i < 10; i++) deduper.remember(change(`e${i}`, `k${i}`, 1n));
    expect(deduper.size.keyVersions).toBe(3);
  });

  it('names a bad window size in its error', () => {
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(ConfigurationError);
    expect(() => new Deduper({ maxEventIds: -1 })).toThrow(/maxEventIds must be a whole number/);
  });
});

describe('Deduper default window', () => {
  /** A DynamoDB Streams eventID: 32 hex digits. */
  const eventId = (i: number) => i.toString(16).padStart(32, '0');
  const record = (i: number) => ({
    eventId: eventId(i),
    version: undefined,
    tableName: 'Votes',
    marshalledKeys: undefined,
  });

  it('drops a redelivery of a whole Lambda batch at its largest (10,000 records)', () => {
    // arrange: two earlier batches, then the batch that is redelivered
    const deduper = new Deduper();
    for (let i = 0; i < 30_000; i++) deduper.remember(record(i));
    // act
    const redelivered = Array.from({ length: 10_000 }, (_, i) => deduper.check(record(20_000 + i)));
    // assert
    expect(redelivered.every((reason) => reason === 'seen')).toBe(true);
    expect(deduper.check(record(19_999))).toBeUndefined();
    expect(deduper.size.eventIds).toBe(DEFAULT_MAX_EVENT_IDS);
  });

  it('holds a full default window in under 1 MB', () => {
    // arrange
    const deduper = new Deduper();
    // act: every record a new event id and a new item, as many as both windows hold
    for (let i = 0; i < DEFAULT_MAX_EVENT_IDS; i++) {
      deduper.remember({
        ...record(i),
        version: BigInt(i),
        marshalledKeys: { id: { S: `u${i}` } },
      });
    }
    // assert
    expect(deduper.size).toEqual({
      eventIds: DEFAULT_MAX_EVENT_IDS,
      keyVersions: DEFAULT_MAX_KEY_VERSIONS,
    });
    expect(deduper.byteLength).toBeLessThan(1_000_000);
  });

  it('holds a full default window of 77-character Kinesis ids in under 1 MB', () => {
    // arrange
    const deduper = new Deduper();
    const kinesisId = (i: number) =>
      `shardId-000000000003:4959033827149025660855969253836157109592157598${String(i).padStart(10, '0')}`;
    // act
    for (let i = 0; i < DEFAULT_MAX_EVENT_IDS; i++) {
      deduper.remember({
        ...record(i),
        eventId: kinesisId(i),
        version: BigInt(i),
        marshalledKeys: { id: { S: `u${i}` } },
      });
    }
    // assert: full, every id still found exactly, and the arrays under 1 MB (1.37 MB unpacked)
    expect(deduper.size.eventIds).toBe(DEFAULT_MAX_EVENT_IDS);
    expect(deduper.check({ ...record(0), eventId: kinesisId(DEFAULT_MAX_EVENT_IDS - 1) })).toBe(
      'seen',
    );
    expect(deduper.check({ ...record(0), eventId: kinesisId(DEFAULT_MAX_EVENT_IDS) })).toBe(
      undefined,
    );
    expect(deduper.byteLength).toBeLessThan(1_000_000);
  });

  it('packs event ids injectively: two different ids never share a key', () => {
    const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 60 });
    const id = fc.oneof(
      fc.tuple(digits, digits).map(([shard, seq]) => `shardId-${shard}:${seq}`),
      fc.tuple(digits, fc.string(), digits).map(([a, b, c]) => `shardId-${a}${b}:${c}`),
      fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\u0002', 'a', '0', 'Ā') }),
      fc.string(),
    );
    fc.assert(
      fc.property(id, id, (a, b) => {
        if (a !== b) expect(compactEventId(a)).not.toBe(compactEventId(b));
        else expect(compactEventId(a)).toBe(compactEventId(b));
      }),
      { numRuns: 20_000, seed: 14 },
    );
    // the ids that could collide with a packed one if nothing marked them
    const packed = compactEventId('shardId-12:34');
    expect(packed).toBe(
      '\u0001' + String.fromCharCode(32 + 12) + '\u0002' + String.fromCharCode(32 + 34),
    );
    expect(compactEventId(packed)).not.toBe(packed);
    expect(compactEventId('shardId-1:3')).not.toBe(compactEventId('shardId-10:3'));
  });

  it('never drops a record whose event id only shares a hash with an applied one', () => {
    // arrange: two 32-character event ids that differ only where the sampled hash does not look
    const pair = ['a1' + '0'.repeat(30), 'a2' + '0'.repeat(30)] as const;
    expect(sampledHash(pair[0])).toBe(sampledHash(pair[1]));
    const deduper = new Deduper();
    // act
    deduper.remember({ ...record(0), eventId: pair[0] });
    // assert
    expect(deduper.check({ ...record(0), eventId: pair[1] })).toBeUndefined();
    expect(deduper.check({ ...record(0), eventId: pair[0] })).toBe('seen');
  });

  it('never calls a newer change stale when versions beyond 2^53 round alike', () => {
    // arrange
    const deduper = new Deduper();
    const change = (version: bigint) => ({
      eventId: `v${version}`,
      version,
      tableName: 'Votes',
      marshalledKeys: { id: { S: 'x' } },
    });
    deduper.remember(change(2n ** 60n + 1n));
    // act, assert: 2^60 + 2 rounds to the same double, and is newer
    expect(deduper.check(change(2n ** 60n + 2n), 'drop')).toBeUndefined();
    expect(deduper.check(change(2n ** 60n - 4096n), 'drop')).toBe('stale');
  });
});
