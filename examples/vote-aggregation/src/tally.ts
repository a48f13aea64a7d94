import { type DynamoDBClient, paginateScan } from '@aws-sdk/client-dynamodb';

/** Vote → count. Choices with a count of 0 are left out, so two tallies compare directly. */
export type Tally = Record<string, number>;

/**
 * Reads the totals from the summary table (only `vote` and `num`: the sink's watermark
 * attributes are not part of the answer). A choice whose count went back to 0 is left out.
 */
export async function readSummary(
  client: Pick<DynamoDBClient, 'send'>,
  summaryTable: string,
): Promise<Tally> {
  const tally: Tally = {};
  for await (const page of paginateScan(
    { client: client as DynamoDBClient },
    { TableName: summaryTable, ProjectionExpression: 'vote, num', ConsistentRead: true },
  )) {
    for (const item of page.Items ?? []) {
      const vote = item.vote?.S;
      const num = Number(item.num?.N ?? '0');
      if (vote !== undefined && num !== 0) tally[vote] = num;
    }
  }
  return sortTally(tally);
}

/**
 * Counts the votes by scanning the Votes table: the nightly full scan this recipe replaces, used
 * here as the ground truth the summary must equal.
 */
export async function countVotesByScan(
  client: Pick<DynamoDBClient, 'send'>,
  votesTable: string,
): Promise<Tally> {
  const tally: Tally = {};
  for await (const page of paginateScan(
    { client: client as DynamoDBClient },
    { TableName: votesTable, ProjectionExpression: 'vote', ConsistentRead: true },
  )) {
    for (const item of page.Items ?? []) {
      const vote = item.vote?.S;
      if (vote !== undefined) tally[vote] = (tally[vote] ?? 0) + 1;
    }
  }
  return sortTally(tally);
}

/** Whether two tallies are equal (same choices, same counts). */
export function sameTally(a: Tally, b: Tally): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if ((a[key] ?? 0) !== (b[key] ?? 0)) return false;
  return true;
}

function sortTally(tally: Tally): Tally {
  return Object.fromEntries(Object.entries(tally).sort(([a], [b]) => a.localeCompare(b)));
}
