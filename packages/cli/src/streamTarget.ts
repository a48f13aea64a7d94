import { usageError } from './CliError.js';

/** What a `<table|stream-arn>` argument named. */
export type StreamTarget =
  | { readonly kind: 'dynamodb-table'; readonly tableName: string }
  | { readonly kind: 'dynamodb-stream'; readonly streamArn: string; readonly tableName: string }
  | { readonly kind: 'kinesis-stream'; readonly streamArn: string; readonly streamName: string };

const DYNAMODB_STREAM_ARN =
  /^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/([A-Za-z0-9_.-]{3,255})\/stream\/[A-Za-z0-9:._-]+$/;
const KINESIS_STREAM_ARN =
  /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/([A-Za-z0-9_.-]{1,128})$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;

/**
 * Parses a `<table|stream-arn>` argument. A DynamoDB table name is looked up later (its latest
 * stream); an ARN must have the documented shape, checked here so a typo is reported as a typo
 * rather than as "not found".
 *
 * @throws CliError (usage) naming the bad value and the expected shapes.
 */
export function parseStreamTarget(text: string): StreamTarget {
  const value = text.trim();
  if (value.startsWith('arn:')) {
    const ddb = DYNAMODB_STREAM_ARN.exec(value);
    if (ddb) return { kind: 'dynamodb-stream', streamArn: value, tableName: ddb[1]! };
    const kinesis = KINESIS_STREAM_ARN.exec(value);
    if (kinesis) return { kind: 'kinesis-stream', streamArn: value, streamName: kinesis[1]! };
    throw usageError(
      `"${value}" is not a DynamoDB or Kinesis stream ARN.`,
      "Give a table name (Votes), a DynamoDB stream ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/stream/LABEL) or a Kinesis stream ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME). Find a table's stream with: aws dynamodb describe-table --table-name TABLE --query Table.LatestStreamArn.",
    );
  }
  if (!TABLE_NAME.test(value)) {
    throw usageError(
      `"${value}" is not a valid DynamoDB table name.`,
      'Table names are 3-255 characters of A-Z, a-z, 0-9, "_", "-" and "."; or give a stream ARN.',
    );
  }
  return { kind: 'dynamodb-table', tableName: value };
}
