import {
  CreateTopicCommand,
  PublishBatchCommand,
  PublishCommand,
  SNSClient,
} from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  localClientConfig,
  type SnsDouble,
  type SqsDouble,
  startSnsDouble,
  startSqsDouble,
} from '../../src/index.js';

describe('SNS double through @aws-sdk/client-sns (AWS query protocol)', () => {
  let sns: SnsDouble;
  let client: SNSClient;

  beforeAll(async () => {
    sns = await startSnsDouble();
    client = new SNSClient(localClientConfig(sns.endpoint, { maxAttempts: 1 }));
  });
  afterAll(async () => {
    client.destroy();
    await sns.stop();
  });

  it('publishes with message attributes to a standard topic', async () => {
    // arrange
    const { TopicArn } = await client.send(new CreateTopicCommand({ Name: 'plain' }));
    // act
    const result = await client.send(
      new PublishCommand({
        TopicArn,
        Message: 'hello',
        MessageAttributes: { eventName: { DataType: 'String', StringValue: 'INSERT' } },
      }),
    );
    // assert
    expect(result.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sns.messages(TopicArn!)).toMatchObject([
      {
        message: 'hello',
        attributes: { eventName: { DataType: 'String', StringValue: 'INSERT' } },
      },
    ]);
  });

  it('reports per-entry results and rejects bad batches whole', async () => {
    // arrange
    const { TopicArn } = await client.send(new CreateTopicCommand({ Name: 'batch' }));
    const tooMany = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, Message: 'm' }));
    // act
    const mixed = await client.send(
      new PublishBatchCommand({
        TopicArn,
        PublishBatchRequestEntries: [
          { Id: 'ok', Message: 'fine' },
          {
            Id: 'bad',
            Message: 'attribute of an unknown type',
            MessageAttributes: { a: { DataType: 'Date', StringValue: 'today' } },
          },
        ],
      }),
    );
    const errors = await Promise.all(
      [
        tooMany,
        [
          { Id: 'same', Message: 'a' },
          { Id: 'same', Message: 'b' },
        ],
        [
          { Id: 'a', Message: 'x'.repeat(200_000) },
          { Id: 'b', Message: 'x'.repeat(100_000) },
        ],
      ].map((entries) =>
        client
          .send(new PublishBatchCommand({ TopicArn, PublishBatchRequestEntries: entries }))
          .then(
            () => 'accepted',
            (e: Error) => e.name,
          ),
      ),
    );
    // assert
    expect(mixed.Successful?.map((s) => s.Id)).toEqual(['ok']);
    expect(mixed.Failed).toMatchObject([
      { Id: 'bad', Code: 'ParameterValueInvalid', SenderFault: true },
    ]);
    expect(errors).toEqual([
      'TooManyEntriesInBatchRequestException',
      'BatchEntryIdsNotDistinctException',
      'BatchRequestTooLongException',
    ]);
  });

  it('enforces FIFO rules and drops a repeated deduplication id', async () => {
    // arrange
    const { TopicArn } = await client.send(
      new CreateTopicCommand({ Name: 'orders.fifo', Attributes: { FifoTopic: 'true' } }),
    );
    // act
    const noGroup = await client
      .send(new PublishCommand({ TopicArn, Message: 'm', MessageDeduplicationId: 'd' }))
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    const noDedup = await client
      .send(new PublishCommand({ TopicArn, Message: 'm', MessageGroupId: 'g' }))
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    const first = await client.send(
      new PublishCommand({
        TopicArn,
        Message: 'm1',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd1',
      }),
    );
    const again = await client.send(
      new PublishCommand({
        TopicArn,
        Message: 'm1',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd1',
      }),
    );
    // assert
    expect(noGroup).toBe('InvalidParameterException');
    expect(noDedup).toBe('InvalidParameterException');
    expect(again.MessageId).toBe(first.MessageId);
    expect(first.SequenceNumber).toMatch(/^\d{20}$/);
    expect(sns.messages(TopicArn!).map((m) => m.message)).toEqual(['m1']);
  });

  it('deduplicates by content on a content-based FIFO topic', async () => {
    // arrange
    const { TopicArn } = await client.send(
      new CreateTopicCommand({
        Name: 'cbd.fifo',
        Attributes: { FifoTopic: 'true', ContentBasedDeduplication: 'true' },
      }),
    );
    // act
    for (const message of ['a', 'a', 'b']) {
      await client.send(new PublishCommand({ TopicArn, Message: message, MessageGroupId: 'g' }));
    }
    // assert
    expect(sns.messages(TopicArn!).map((m) => m.message)).toEqual(['a', 'b']);
  });

  it('answers NotFound for an unknown topic', async () => {
    const outcome = await client
      .send(
        new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:123456789012:none', Message: 'm' }),
      )
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    expect(outcome).toBe('NotFoundException');
  });
});

describe('SQS double through @aws-sdk/client-sqs (JSON 1.0 protocol)', () => {
  let sqs: SqsDouble;
  let client: SQSClient;

  beforeAll(async () => {
    sqs = await startSqsDouble();
    client = new SQSClient(localClientConfig(sqs.endpoint, { maxAttempts: 1 }));
  });
  afterAll(async () => {
    client.destroy();
    await sqs.stop();
  });

  it('sends, receives with attributes (MD5 checked by the SDK) and deletes', async () => {
    // arrange
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'dlq' }));
    const { QueueUrl: again } = await client.send(new GetQueueUrlCommand({ QueueName: 'dlq' }));
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: '{"a":1}',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'failed-record' } },
      }),
    );
    // act
    const received = await client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
      }),
    );
    const hidden = await client.send(new ReceiveMessageCommand({ QueueUrl }));
    await client.send(
      new DeleteMessageCommand({ QueueUrl, ReceiptHandle: received.Messages![0]!.ReceiptHandle }),
    );
    // assert
    expect(again).toBe(QueueUrl);
    expect(received.Messages).toMatchObject([
      { Body: '{"a":1}', MessageAttributes: { kind: { StringValue: 'failed-record' } } },
    ]);
    expect(hidden.Messages ?? []).toEqual([]);
    expect(sqs.messages(QueueUrl!)).toEqual([]);
  });

  it('batches send and delete, and rejects bad batches as SQS does', async () => {
    // arrange
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'batch' }));
    // act
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          { Id: 'b', MessageBody: 'two' },
        ],
      }),
    );
    const received = await client.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }),
    );
    const deleted = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: received.Messages!.map((m, i) => ({
          Id: `d${i}`,
          ReceiptHandle: m.ReceiptHandle,
        })),
      }),
    );
    const tooMany = await client
      .send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'm' })),
        }),
      )
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    const tooLong = await client
      .send(new SendMessageCommand({ QueueUrl, MessageBody: 'x'.repeat(262_145) }))
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    const noQueue = await client
      .send(new SendMessageCommand({ QueueUrl: `${QueueUrl}-nope`, MessageBody: 'm' }))
      .then(
        () => 'accepted',
        (e: Error) => e.name,
      );
    // assert
    expect(sent.Successful?.map((s) => s.Id)).toEqual(['a', 'b']);
    expect(received.Messages?.map((m) => m.Body)).toEqual(['one', 'two']);
    expect(deleted.Successful).toHaveLength(2);
    expect(tooMany).toBe('TooManyEntriesInBatchRequest');
    expect(tooLong).toBe('InvalidParameterValue');
    expect(noQueue).toBe('QueueDoesNotExist');
  });
});
