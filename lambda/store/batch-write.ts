/**
 * `BatchWriteItem` with DynamoDB's `UnprocessedItems` retried: what a throttled table leaves of a
 * batch is sent again, with exponential backoff, a bounded number of times.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { backoffDelay } from '../core/backoff.ts';

/** Retries and backoff of {@link batchWrite}. */
export interface BatchRetry {
  /** Calls after the first for what is still unprocessed. */
  readonly retries: number;
  /** Delay before the first retry, doubled each time. */
  readonly baseDelayMs: number;
  /** Largest delay. @default no cap */
  readonly maxDelayMs?: number;
}

/**
 * Writes `requests` (at most 25: one `BatchWriteItem`), retrying the unprocessed ones; returns
 * those still unwritten (all that were left when a call fails: the caller keeps them).
 *
 * @example
 * const left = await batchWrite(client, 'splitserve-usage', puts, { retries: 5, baseDelayMs: 25 });
 * if (left.length > 0) throw new NotDurableError(`${left.length} not written`, left.length);
 */
export async function batchWrite(client: DynamoDBClient, tableName: string, requests: WriteRequest[], retry: BatchRetry): Promise<WriteRequest[]> {
  let left = requests;
  for (let attempt = 0; left.length > 0 && attempt <= retry.retries; attempt++) {
    if (attempt > 0) await sleep(backoffDelay({ baseMs: retry.baseDelayMs, maxMs: retry.maxDelayMs }, attempt));
    try {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: left } }));
      left = out.UnprocessedItems?.[tableName] ?? [];
    } catch {
      return left;
    }
  }
  return left;
}
