import { DeleteItemCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { sleep } from '@shardline/core';

/** The choices of the demo's poll. */
export const DEMO_CHOICES = ['cats', 'dogs', 'parrots'] as const;

/** What the writer has done so far. */
export interface VoteWriterStats {
  readonly written: number;
  readonly inserted: number;
  readonly changed: number;
  readonly deleted: number;
}

/** Options of {@link VoteWriter}. */
export interface VoteWriterOptions {
  readonly client: Pick<DynamoDBClient, 'send'>;
  readonly votesTable: string;
  /** Changes per second. */
  readonly rate: number;
  /** Distinct voters; they vote, change their vote and withdraw it. */
  readonly voters: number;
  readonly random?: () => number;
}

/**
 * Writes a stream of votes at a steady rate: new votes, changed votes and withdrawn (deleted)
 * votes, the three cases a summary must get right. Remembers when each change was written, so
 * the demo can show how far behind the consumer is.
 */
export class VoteWriter {
  readonly #options: VoteWriterOptions;
  readonly #votes = new Map<string, string>();
  readonly #random: () => number;
  /** Write time (epoch ms) of each change, in order. */
  readonly writtenAt: number[] = [];
  #stats = { written: 0, inserted: 0, changed: 0, deleted: 0 };

  constructor(options: VoteWriterOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
  }

  get stats(): VoteWriterStats {
    return { ...this.#stats };
  }

  /** Writes until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const interval = 1000 / this.#options.rate;
    let next = Date.now();
    while (!signal.aborted) {
      await this.#writeOne();
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) {
        try {
          await sleep(wait, signal);
        } catch {
          return;
        }
      } else if (wait < -1000) {
        next = Date.now(); // DynamoDB Local is slower than the rate: do not burst to catch up.
      }
    }
  }

  async #writeOne(): Promise<void> {
    const user = `voter-${String(Math.floor(this.#random() * this.#options.voters)).padStart(4, '0')}`;
    const current = this.#votes.get(user);
    const { client, votesTable } = this.#options;
    if (current !== undefined && this.#random() < 0.3) {
      await client.send(
        new DeleteItemCommand({ TableName: votesTable, Key: { UserID: { S: user } } }),
      );
      this.#votes.delete(user);
      this.#stats.deleted++;
    } else {
      const others = DEMO_CHOICES.filter((c) => c !== current);
      const vote = others[Math.floor(this.#random() * others.length)]!;
      await client.send(
        new PutItemCommand({
          TableName: votesTable,
          Item: {
            UserID: { S: user },
            vote: { S: vote },
            Date: { S: new Date().toISOString() },
          },
        }),
      );
      this.#votes.set(user, vote);
      if (current === undefined) this.#stats.inserted++;
      else this.#stats.changed++;
    }
    this.#stats.written++;
    this.writtenAt.push(Date.now());
  }
}
