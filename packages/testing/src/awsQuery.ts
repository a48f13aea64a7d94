import type { ServerResponse } from 'node:http';

/** A message attribute as SNS and SQS carry it. */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string | undefined;
  /** Base64, as the query protocol carries binary values. */
  readonly BinaryValue?: string | undefined;
}

/**
 * Reads `prefix.member.N.` (lists) or `prefix.entry.N.` (maps) groups of an AWS query request,
 * in index order, as the field suffixes they carry.
 */
export function queryMembers(
  params: URLSearchParams,
  prefix: string,
  kind: 'member' | 'entry',
): Map<string, string>[] {
  const groups = new Map<number, Map<string, string>>();
  const head = `${prefix}.${kind}.`;
  for (const [name, value] of params) {
    if (!name.startsWith(head)) continue;
    const rest = name.slice(head.length);
    const dot = rest.indexOf('.');
    const index = Number(dot < 0 ? rest : rest.slice(0, dot));
    if (!Number.isInteger(index)) continue;
    let group = groups.get(index);
    if (!group) {
      group = new Map();
      groups.set(index, group);
    }
    group.set(dot < 0 ? '' : rest.slice(dot + 1), value);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

/** Reads the `MessageAttributes` map of a query request (under `prefix`, e.g. `X.member.1.`). */
export function queryMessageAttributes(
  params: URLSearchParams,
  prefix: string,
): Record<string, MessageAttributeValue> {
  const out: Record<string, MessageAttributeValue> = {};
  for (const entry of queryMembers(params, `${prefix}MessageAttributes`, 'entry')) {
    const name = entry.get('Name');
    if (name === undefined) continue;
    out[name] = {
      DataType: entry.get('Value.DataType') ?? '',
      StringValue: entry.get('Value.StringValue'),
      BinaryValue: entry.get('Value.BinaryValue'),
    };
  }
  return out;
}

/** Escapes text for an XML element. */
export function xmlEscape(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Writes an XML response of the AWS query protocol. */
export function sendXml(response: ServerResponse, status: number, xml: string): void {
  const text = `<?xml version="1.0"?>\n${xml}`;
  response.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

/** Bytes SNS and SQS count for message attributes: name, data type and value of each. */
export function attributesSize(attributes: Record<string, MessageAttributeValue>): number {
  let size = 0;
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType);
    if (value.StringValue !== undefined) size += Buffer.byteLength(value.StringValue);
    if (value.BinaryValue !== undefined) size += Buffer.from(value.BinaryValue, 'base64').length;
  }
  return size;
}
