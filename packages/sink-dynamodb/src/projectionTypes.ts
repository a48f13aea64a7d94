import type { TransactWriteItem } from '@aws-sdk/client-dynamodb';
import type { ChangeRecord, Item } from '@shardline/core';

/**
 * One item of a derived table that a source item produces, for
 * {@link DynamoDBProjectionSinkOptions.project}.
 *
 * @example
 * // users re-keyed by e-mail address
 * { key: { email: image.email }, attributes: { userId: image.id, name: image.name } }
 */
export interface ProjectedItem {
  /** The target table. @default the sink's `tableName` */
  readonly tableName?: string;
  /** The target item's primary key (every key attribute of the target table, nothing else). */
  readonly key: Item;
  /** The item's other attributes; key attributes given here are overwritten by `key`. */
  readonly attributes?: Item;
}

/**
 * Keyed projections: the attributes of the one target item a source item in the state of
 * `image` produces at the source item's own key, or `undefined` when it produces none (the
 * target item is deleted). Key attributes returned are overwritten by the source key.
 */
export type TransformFunction = (image: Item, record: ChangeRecord) => Item | undefined;

/**
 * Derived projections: every target item a source item in the state of `image` produces (`[]`:
 * none). Each target item must be produced by one source item at a time (a target key that
 * contains the source key, or a unique attribute): the items a source item no longer produces
 * are deleted, whoever wrote them last.
 */
export type ProjectFunction = (image: Item, record: ChangeRecord) => readonly ProjectedItem[];

/** Whether a source item in the state of `image` is projected at all. */
export type FilterFunction = (image: Item, record: ChangeRecord) => boolean;

/** The change a {@link ProjectionTransactionFunction} adds actions to. */
export interface ProjectionChange {
  /** The change being applied (the newest of its item in the batch, never a stale one). */
  readonly record: ChangeRecord;
  /** The source item after the change, or `undefined` for a REMOVE. */
  readonly image: Item | undefined;
  /** The target items the change leaves (empty when it deletes them). */
  readonly targets: readonly ProjectedItem[];
}

/**
 * Extra write actions (`Put`, `Update`, `Delete`, `ConditionCheck` on other tables) that go in
 * the same `TransactWriteItems` call as the change's own writes, so they happen exactly when the
 * change is applied: never for a stale change, never twice. The actions must not touch the
 * target or state items of the change, and must be idempotent across different changes of the
 * item (a `Put` of a derived item is; an `ADD` to a counter is not, use the ledger summary sink).
 */
export type ProjectionTransactionFunction = (
  change: ProjectionChange,
) => readonly TransactWriteItem[];
