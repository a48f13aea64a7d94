/**
 * A DynamoDB attribute in the wire format, structurally compatible with the `AttributeValue` of
 * `@aws-sdk/client-dynamodb` and with Lambda event JSON (where `B` is base64 text). Defined here
 * so core needs no AWS client.
 */
export interface AttributeValue {
  S?: string;
  N?: string;
  B?: Uint8Array | string;
  SS?: string[];
  NS?: string[];
  BS?: (Uint8Array | string)[];
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  NULL?: boolean;
  BOOL?: boolean;
}
