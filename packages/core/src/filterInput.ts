import { type ChangeRecord, SourceKind } from './ChangeRecord.js';

type Json = Record<string, unknown>;

/**
 * The JSON a Lambda event filter sees for a record, built from any source, so one pattern means
 * the same thing in the Lambda handler and in the worker:
 *
 * - DynamoDB Streams: the Lambda DynamoDB record (`eventName`, `awsRegion`, `userIdentity`,
 *   `dynamodb.Keys` / `NewImage` / `OldImage` in DynamoDB JSON, …). A GetRecords record is
 *   brought to that shape: `ApproximateCreationDateTime` in epoch seconds, `userIdentity` as
 *   `{ type, principalId }`.
 * - Kinesis (and "Kinesis Data Streams for DynamoDB"): the Lambda Kinesis metadata
 *   (`partitionKey`, `sequenceNumber`, `approximateArrivalTimestamp`, `kinesisSchemaVersion`)
 *   and `data`, the payload parsed as JSON (absent when it is not JSON, so a pattern on `data`
 *   does not match it, as in Lambda). A KPL user record is filtered on its own payload.
 */
export function filterInputOf(record: ChangeRecord): Json {
  if (record.source === SourceKind.DynamoDBStreams) return dynamoDBInput(record.raw as Json);
  return kinesisInput(record);
}

function dynamoDBInput(raw: Json): Json {
  const ddb = raw?.dynamodb as Json | undefined;
  const identity = raw?.userIdentity as Json | null | undefined;
  const created = ddb?.ApproximateCreationDateTime;
  const needsDdbCopy = created instanceof Date;
  const needsIdentityCopy =
    identity != null && (identity.Type !== undefined || identity.PrincipalId !== undefined);
  if (!needsDdbCopy && !needsIdentityCopy) return raw;
  return {
    ...raw,
    ...(needsDdbCopy
      ? { dynamodb: { ...ddb, ApproximateCreationDateTime: created.getTime() / 1000 } }
      : {}),
    ...(needsIdentityCopy
      ? {
          userIdentity: {
            type: identity.type ?? identity.Type,
            principalId: identity.principalId ?? identity.PrincipalId,
          },
        }
      : {}),
  };
}

function kinesisInput(record: ChangeRecord): Json {
  const raw = record.raw as Json | undefined;
  const lambda = raw?.kinesis as Json | undefined;
  const input: Json = {
    partitionKey: record.partitionKey ?? lambda?.partitionKey ?? raw?.PartitionKey,
    sequenceNumber: record.sequenceNumber,
    approximateArrivalTimestamp:
      lambda?.approximateArrivalTimestamp ?? epochSeconds(raw?.ApproximateArrivalTimestamp),
  };
  if (lambda?.kinesisSchemaVersion !== undefined) {
    input.kinesisSchemaVersion = lambda.kinesisSchemaVersion;
  }
  const data = payloadJson(record, raw, lambda);
  if (data !== undefined) input.data = data;
  return input;
}

function payloadJson(record: ChangeRecord, raw: Json | undefined, lambda: Json | undefined) {
  // A plain Kinesis record decoded as JSON already holds its parsed payload.
  if (record.source === SourceKind.Kinesis && record.newImage !== undefined) {
    return record.newImage;
  }
  let bytes: Uint8Array | undefined = record.data;
  if (!bytes && typeof lambda?.data === 'string') bytes = Buffer.from(lambda.data, 'base64');
  // GetRecords records: the SDK's bytes, or the base64 the Kinesis source keeps in `raw`.
  if (!bytes && raw?.Data instanceof Uint8Array) bytes = raw.Data;
  if (!bytes && typeof raw?.Data === 'string') bytes = Buffer.from(raw.Data, 'base64');
  if (!bytes) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** A GetRecords arrival time (a Date, or the ISO string the Kinesis source keeps) in epoch s. */
function epochSeconds(value: unknown): number | undefined {
  if (value instanceof Date) return value.getTime() / 1000;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms / 1000;
  }
  return undefined;
}
