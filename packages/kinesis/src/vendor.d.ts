declare module 'aws-kinesis-agg' {
  /** One user record of a KPL aggregate. */
  export interface UserRecord {
    partitionKey: string;
    explicitPartitionKey?: string;
    sequenceNumber: string;
    subSequenceNumber: number;
    /** base64 */
    data: string;
  }
  export function deaggregateSync(
    kinesisRecord: {
      data: string;
      partitionKey: string;
      sequenceNumber: string;
      explicitPartitionKey?: string;
    },
    computeChecksums: boolean,
    afterRecordCallback: (err: Error | null | undefined, userRecords?: UserRecord[]) => void,
  ): void;
  export function aggregate(
    records: { partitionKey: string; explicitHashKey?: string; data: Buffer | string }[],
    encodedRecordHandler: (
      encodedRecord: { partitionKey: string; explicitHashKey?: string; data: Buffer },
      callback: (err?: Error) => void,
    ) => void,
    afterPutAggregatedRecords: () => void,
    errorCallback: (error: Error) => void,
    queueSize?: number,
  ): void;
}
