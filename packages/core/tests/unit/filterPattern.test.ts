import { describe, expect, it } from 'vitest';
import {
  type ChangeRecord,
  ConfigurationError,
  compileFilterCriteria,
  compileFilterPattern,
  decodeDynamoDBRecord,
  filterInputOf,
} from '../../src/index.js';
import { rawStreamRecord } from '../helpers/records.js';

/**
 * One case per row of Lambda's "filter rule syntax" table (the comparison operators of
 * FilterCriteria), with the table's own example rule, a record that matches and one that does not.
 */
const operators: [string, object, object, object][] = [
  ['null', { UserID: [null] }, { UserID: null }, { UserID: 'x' }],
  ['empty', { LastName: [''] }, { LastName: '' }, { LastName: 'Doe' }],
  ['equals', { Name: ['Alice'] }, { Name: 'Alice' }, { Name: 'alice' }],
  [
    'equals (ignore case)',
    { Name: [{ 'equals-ignore-case': 'alice' }] },
    { Name: 'ALICE' },
    { Name: 'Alicia' },
  ],
  [
    'and',
    { Location: ['New York'], Day: ['Monday'] },
    { Location: 'New York', Day: 'Monday' },
    { Location: 'New York', Day: 'Tuesday' },
  ],
  ['or', { PaymentType: ['Credit', 'Debit'] }, { PaymentType: 'Debit' }, { PaymentType: 'Cash' }],
  [
    'or (multiple fields)',
    { $or: [{ Location: ['New York'] }, { Day: ['Monday'] }] },
    { Location: 'Paris', Day: 'Monday' },
    { Location: 'Paris', Day: 'Sunday' },
  ],
  [
    'not (anything-but)',
    { Weather: [{ 'anything-but': ['Raining'] }] },
    { Weather: 'Sunny' },
    { Weather: 'Raining' },
  ],
  ['numeric (equals)', { Price: [{ numeric: ['=', 100] }] }, { Price: 100 }, { Price: 101 }],
  ['numeric (range)', { Price: [{ numeric: ['>', 10, '<=', 20] }] }, { Price: 20 }, { Price: 10 }],
  ['exists', { ProductName: [{ exists: true }] }, { ProductName: 'Widget' }, { Other: 'x' }],
  [
    'does not exist',
    { ProductName: [{ exists: false }] },
    { Other: 'x' },
    { ProductName: 'Widget' },
  ],
  ['begins with', { Region: [{ prefix: 'us-' }] }, { Region: 'us-east-1' }, { Region: 'eu-us-1' }],
  [
    'ends with',
    { FileName: [{ suffix: '.png' }] },
    { FileName: 'cat.png' },
    { FileName: 'cat.png.gz' },
  ],
];

describe('compileFilterPattern: Lambda filter rule syntax', () => {
  it.each(operators)('%s', (_name, pattern, matching, other) => {
    // arrange
    const matches = compileFilterPattern(pattern as never);
    // act / assert
    expect(matches(matching)).toBe(true);
    expect(matches(other)).toBe(false);
  });

  it.each(operators)(
    '%s, given as the JSON string of FilterCriteria.Filters[].Pattern',
    (_n, pattern, matching, other) => {
      // arrange
      const matches = compileFilterPattern(JSON.stringify(pattern));
      // act / assert
      expect(matches(matching)).toBe(true);
      expect(matches(other)).toBe(false);
    },
  );

  it('anything-but with prefix, suffix and equals-ignore-case', () => {
    // arrange
    const notUs = compileFilterPattern({ Region: [{ 'anything-but': { prefix: 'us-' } }] });
    const notPng = compileFilterPattern({ File: [{ 'anything-but': { suffix: '.png' } }] });
    const notInit = compileFilterPattern({
      state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }],
    });
    // act / assert
    expect([notUs({ Region: 'eu-west-1' }), notUs({ Region: 'us-east-1' })]).toEqual([true, false]);
    expect([notPng({ File: 'a.jpg' }), notPng({ File: 'a.png' })]).toEqual([true, false]);
    expect([notInit({ state: 'running' }), notInit({ state: 'INITIALIZING' })]).toEqual([
      true,
      false,
    ]);
  });

  it('anything-but, like equals, needs the field to be there', () => {
    // arrange
    const matches = compileFilterPattern({ Weather: [{ 'anything-but': 'Raining' }] });
    // act / assert
    expect(matches({})).toBe(false);
    expect(matches({ Weather: 'Snow' })).toBe(true);
  });

  it('matches an array field when one element matches', () => {
    // arrange
    const matches = compileFilterPattern({ tags: ['red'] });
    // act / assert
    expect(matches({ tags: ['blue', 'red'] })).toBe(true);
    expect(matches({ tags: ['blue'] })).toBe(false);
  });

  it('exists works on leaf fields only, and exists: false matches under a missing parent', () => {
    // arrange
    const leafExists = compileFilterPattern({ a: [{ exists: true }] });
    const nestedAbsent = compileFilterPattern({ a: { b: [{ exists: false }] } });
    // act / assert
    expect(leafExists({ a: { b: 1 } })).toBe(false);
    expect(leafExists({ a: 0 })).toBe(true);
    expect(nestedAbsent({})).toBe(true);
    expect(nestedAbsent({ a: { c: 1 } })).toBe(true);
    expect(nestedAbsent({ a: { b: 1 } })).toBe(false);
  });

  it('numeric reads DynamoDB JSON numbers, which are strings', () => {
    // arrange
    const matches = compileFilterPattern({
      dynamodb: { NewImage: { quantity: { N: [{ numeric: ['>=', 5] }] } } },
    });
    // act / assert
    expect(matches({ dynamodb: { NewImage: { quantity: { N: '12' } } } })).toBe(true);
    expect(matches({ dynamodb: { NewImage: { quantity: { N: '4.5' } } } })).toBe(false);
    expect(matches({ dynamodb: { NewImage: { quantity: { S: 'many' } } } })).toBe(false);
  });

  it('equals is typed: the string "100" is not the number 100', () => {
    // arrange
    const matches = compileFilterPattern({ Price: [100] });
    // act / assert
    expect(matches({ Price: '100' })).toBe(false);
    expect(matches({ Price: 100 })).toBe(true);
  });

  it.each([
    [{ Name: 'Alice' }, 'rule list'],
    [{ Name: [] }, 'empty'],
    [{ Price: [{ numeric: ['>'] }] }, 'numeric takes'],
    [{ Price: [{ numeric: ['!=', 1] }] }, 'numeric takes'],
    [{ Name: [{ prefix: 1 }] }, 'prefix takes a string'],
    [{ Name: [{ contains: 'x' }] }, 'unknown operator "contains"'],
    [{ Name: [{ prefix: 'a', suffix: 'b' }] }, 'exactly one operator'],
    [{ $or: [{ a: ['x'] }] }, '$or takes a list of two or more'],
    [{ a: [{ exists: 'yes' }] }, 'exists takes true or false'],
    [{}, 'empty'],
  ])('rejects a malformed pattern %j, saying how to write it', (pattern, message) => {
    // act / assert
    expect(() => compileFilterPattern(pattern as never)).toThrow(ConfigurationError);
    expect(() => compileFilterPattern(pattern as never)).toThrow(message);
  });

  it('rejects a pattern string that is not JSON', () => {
    expect(() => compileFilterPattern('{eventName: INSERT}')).toThrow(/must be JSON/);
  });
});

describe('compileFilterCriteria', () => {
  it('takes the FilterCriteria object and ORs its filters', () => {
    // arrange
    const matches = compileFilterCriteria({
      Filters: [
        { Pattern: JSON.stringify({ eventName: ['INSERT'] }) },
        { Pattern: JSON.stringify({ eventName: ['REMOVE'] }) },
      ],
    })!;
    // act / assert
    expect(matches({ eventName: 'INSERT' })).toBe(true);
    expect(matches({ eventName: 'REMOVE' })).toBe(true);
    expect(matches({ eventName: 'MODIFY' })).toBe(false);
  });

  it('filters nothing when there are no filters', () => {
    expect(compileFilterCriteria(undefined)).toBeUndefined();
    expect(compileFilterCriteria({ Filters: [] })).toBeUndefined();
    expect(compileFilterCriteria([])).toBeUndefined();
  });
});

describe('filterInputOf + patterns on DynamoDB records (the Lambda docs examples)', () => {
  const streamId = 'arn:aws:dynamodb:us-east-1:123456789012:table/Votes/stream/x';
  function decoded(raw: object): ChangeRecord {
    return decodeDynamoDBRecord(raw as never, { streamId, shardId: 'shardId-1' });
  }

  it('filters on Keys, NewImage and eventName in DynamoDB JSON', () => {
    // arrange
    const record = decoded(
      rawStreamRecord({
        key: 'AnyCompany Industries',
        sequenceNumber: 1,
        newImage: { id: 'AnyCompany Industries', AccountManager: 'Pat Candella' },
      }),
    );
    const byKey = compileFilterPattern({
      dynamodb: { Keys: { id: { S: ['AnyCompany Industries'] } } },
    });
    const byImage = compileFilterPattern({
      eventName: ['INSERT'],
      dynamodb: { NewImage: { AccountManager: { S: ['Pat Candella', 'Shirley Rodriguez'] } } },
    });
    const byOther = compileFilterPattern({
      dynamodb: { NewImage: { AccountManager: { S: ['Someone Else'] } } },
    });
    // act
    const input = filterInputOf(record);
    // assert
    expect(byKey(input)).toBe(true);
    expect(byImage(input)).toBe(true);
    expect(byOther(input)).toBe(false);
  });

  it('sees a GetRecords (SDK v3) record in the Lambda shape: userIdentity and creation time', () => {
    // arrange
    const lambdaShape = rawStreamRecord({ key: 'a', sequenceNumber: 2, eventName: 'REMOVE' });
    const sdkShape = {
      ...lambdaShape,
      userIdentity: { Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' },
      dynamodb: {
        ...lambdaShape.dynamodb,
        ApproximateCreationDateTime: new Date(1_763_856_000_000),
      },
    };
    const ttlPattern = compileFilterPattern({
      userIdentity: { type: ['Service'], principalId: ['dynamodb.amazonaws.com'] },
      dynamodb: { ApproximateCreationDateTime: [{ numeric: ['>=', 1_763_856_000] }] },
    });
    // act
    const input = filterInputOf(decoded(sdkShape));
    // assert
    expect(ttlPattern(input)).toBe(true);
  });
});
