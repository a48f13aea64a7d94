export {
  BOOTSTRAP_EXTERNAL_VERSION,
  DEFAULT_MAX_BULK_ACTIONS,
  DEFAULT_MAX_BULK_BYTES,
  MAX_DOCUMENT_ID_BYTES,
  MAX_EXTERNAL_VERSION,
} from './constants.js';
export { defaultDocumentId, fitDocumentId } from './documentId.js';
export { OpenSearchItemError, OpenSearchRecordError } from './errors.js';
export {
  defaultPrecision,
  externalVersion,
  type TimestampPrecision,
  versionType,
} from './externalVersion.js';
export { OpenSearchSink, type OpenSearchSinkOptions, type PerRecord } from './OpenSearchSink.js';
export { serializeDocument } from './serializeDocument.js';
