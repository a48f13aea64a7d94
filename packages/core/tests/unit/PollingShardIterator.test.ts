import { describe, expect, it } from 'vitest';
import {
  DataTrimmedError,
  InMemoryMetrics,
  type PolledPage,
  PollingShardIterator,
  type StartPosition,
  StreamReadError,
  silentLogger,
} from '../../src/index.js';

/** A service error as the SDK throws it: a name that is the code. */
function awsError(name: string): Error {
  return Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } });
}

type Step = PolledPage | Error;

/** A shard whose GetRecords answers follow `steps`; records the positions iterators took. */
class ScriptedShard extends PollingShardIterator {
  readonly positions: StartPosition[] = [];
  readonly #steps: Step[];
  #issued = 0;

  constructor(steps: Step[], findChildren: () => Promise<string[]> = async () => ['child']) {
    super({
      streamId: 's',
      shardId: 'shard-1',
      start: { type: 'TRIM_HORIZON' },
      retriableCodes: new Set(['Throttled']),
      findChildren,
      endedMillisBehindLatest: 0,
      events: undefined,
      metrics: new InMemoryMetrics(),
      logger: silentLogger,
    });
    this.#steps = steps;
  }

  get metrics(): InMemoryMetrics {
    return this.report.metrics as InMemoryMetrics;
  }

  protected async getShardIterator(position: StartPosition): Promise<string> {
    this.positions.push(position);
    return `it-${++this.#issued}`;
  }

  protected async getRecords(): Promise<PolledPage> {
    const step = this.#steps.shift();
    if (!step) throw new Error('script ran out');
    if (step instanceof Error) throw step;
    return step;
  }
}

const page = (last: string | undefined, ended = false): PolledPage => ({
  records: [],
  lastSequenceNumber: last,
  millisBehindLatest: 5,
  nextIterator: ended ? undefined : 'more',
});

describe('PollingShardIterator', () => {
  it('re-acquires an expired iterator after the last record returned, at most 3 times a read', async () => {
    // arrange
    const shard = new ScriptedShard([
      page('10'),
      awsError('ExpiredIteratorException'),
      page('20'),
      ...Array.from({ length: 4 }, () => awsError('ExpiredIteratorException')),
    ]);
    await shard.open();
    // act
    await shard.next();
    await shard.next();
    const error = await shard.next().catch((e: unknown) => e);
    // assert
    expect(shard.positions).toEqual([
      { type: 'TRIM_HORIZON' },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '10' },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '20' },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '20' },
      { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '20' },
    ]);
    expect(error).toBeInstanceOf(StreamReadError);
    expect(
      shard.metrics.counter('iterator_reacquired_total', { stream: 's', shard: 'shard-1' }),
    ).toBe(4);
  });

  it('keeps the iterator on a retriable error, and passes Shardline errors through unwrapped', async () => {
    // arrange
    const trimmed = new DataTrimmedError('shard-1', '10');
    const shard = new ScriptedShard([awsError('Throttled'), page('1'), trimmed]);
    await shard.open();
    // act
    const throttled = await shard.next().catch((e: unknown) => e);
    const read = await shard.next();
    const stopped = await shard.next().catch((e: unknown) => e);
    // assert
    expect(throttled).toMatchObject({ retriable: true, operation: 'GetRecords' });
    expect(read.shardEnded).toBe(false);
    expect(stopped).toBe(trimmed);
    expect(shard.positions).toHaveLength(1);
  });

  it('ends the shard with the children the page named, or looks them up', async () => {
    const named = new ScriptedShard([{ ...page('9', true), childShardIds: ['a', 'b'] }]);
    await named.open();
    expect(await named.next()).toMatchObject({ shardEnded: true, childShardIds: ['a', 'b'] });
    expect(await named.next()).toMatchObject({ shardEnded: true, millisBehindLatest: 0 });

    const lookedUp = new ScriptedShard([page('9', true)]);
    await lookedUp.open();
    expect(await lookedUp.next()).toMatchObject({ shardEnded: true, childShardIds: ['child'] });

    const failing = new ScriptedShard([page('9', true)], async () => {
      throw new Error('listing failed');
    });
    await failing.open();
    expect(await failing.next()).toMatchObject({ shardEnded: true, childShardIds: undefined });
  });
});
