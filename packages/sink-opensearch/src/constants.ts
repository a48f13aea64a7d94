/** The largest external version OpenSearch accepts (a Java `long`): 2^63 − 1. */
export const MAX_EXTERNAL_VERSION = 9_223_372_036_854_775_807n;

/** The longest document id OpenSearch accepts (since 2.9), in UTF-8 bytes. */
export const MAX_DOCUMENT_ID_BYTES = 512;

/**
 * Default upper bound of one `_bulk` request body, in bytes. OpenSearch's guidance is 5–15 MiB;
 * Amazon OpenSearch Service rejects bodies over 10 MiB on its smaller instance types.
 */
export const DEFAULT_MAX_BULK_BYTES = 5 * 1024 * 1024;

/** Default upper bound of actions in one `_bulk` request. */
export const DEFAULT_MAX_BULK_ACTIONS = 1000;
/**
 * The external version of every item a bootstrap reads (`record.bootstrap`), with the default
 * versions: below every stream change's version, so a bootstrapped document is written only
 * where the index holds nothing of the item and never replaces a change the stream wrote.
 */
export const BOOTSTRAP_EXTERNAL_VERSION = 1n;
