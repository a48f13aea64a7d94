import type { Client } from '@opensearch-project/opensearch';

/** The index that records a completed backfill of `index` (kept apart so searches never see it). */
export function backfillMarkerIndex(index: string): string {
  return `${index}-shardline-backfill`;
}

/** Whether a backfill of `index` completed before (SEARCH_SYNC_BACKFILL=auto skips it then). */
export async function isBackfillDone(client: Client, index: string): Promise<boolean> {
  try {
    const response = await client.get({ index: backfillMarkerIndex(index), id: 'state' });
    return Boolean((response.body as { found?: boolean }).found);
  } catch (error) {
    if ((error as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return false;
    throw error;
  }
}

/** Records that a backfill of `index` completed, with when and how many items it read. */
export async function markBackfillDone(
  client: Client,
  index: string,
  details: { readonly scanned: number; readonly finishedAt: string },
): Promise<void> {
  await client.bulk({
    refresh: true,
    body: [{ index: { _index: backfillMarkerIndex(index), _id: 'state' } }, details],
  });
}
