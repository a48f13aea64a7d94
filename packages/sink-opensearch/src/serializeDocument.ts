import { itemToJson } from '@shardline/core';

/**
 * Serializes a document to JSON the way OpenSearch can index it (core's `itemToJson`): DynamoDB
 * sets become arrays, binary values base64 strings, and numbers beyond a double's precision
 * (kept exact as `NumberValue` by Shardline's decoder) and bigints become decimal strings, which
 * OpenSearch coerces into numeric fields without loss of the text.
 */
export function serializeDocument(document: unknown): string {
  return itemToJson(document);
}
