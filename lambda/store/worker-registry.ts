/**
 * Registered workers in the Config table (layout in config-items.ts): one item per worker of a
 * pool, with an `expiresAt` the table's TTL reads.
 *
 * - register (also the heartbeat): one UpdateItem that makes the worker `active` and pushes its
 *   `expiresAt` to now + the TTL (the first registration time is kept);
 * - deregister: one conditional UpdateItem that marks it `draining` until now + the drain time:
 *   gateways stop sending it new calls, calls in flight finish, then the item lapses like a
 *   worker that stopped heartbeating (and the TTL deletes it);
 * - remove: deletes the item at once (a worker that is gone for good);
 * - live: one strongly consistent Query per pool. DynamoDB's TTL deletes lapsed items lazily
 *   (often within minutes, at worst after a day or two), so readers drop the items whose
 *   `expiresAt` has passed themselves: a stale registration is ignored from the second it lapses.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { queryAll } from './query-all.ts';
import { decodeWorker, workerItemKey, workerPartitionKey, type WorkerRecord } from './config-items.ts';
import { storeFailure } from './errors.ts';

/** Options of {@link WorkerRegistry}. */
export interface WorkerRegistryOptions {
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The registered workers of the pools.
 *
 * @example
 * const registry = new WorkerRegistry(client, 'splitserve-config');
 * await registry.register('decode', 'http://10.0.3.7:8000', 30); // again every ~10 s
 * const workers = await registry.live('decode');
 */
export class WorkerRegistry {
  private readonly now: () => number;

  constructor(
    private readonly client: DynamoDBClient,
    public readonly tableName: string,
    options: WorkerRegistryOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Registers a worker, or registers it again: `active` for `ttlS` seconds from now, whatever its state was. */
  async register(pool: string, url: string, ttlS: number): Promise<WorkerRecord> {
    return (await this.activate(pool, url, ttlS, false))!;
  }

  /**
   * Renews a registration (a heartbeat): `active` for `ttlS` seconds from now, unless the worker
   * deregistered and is still draining (a heartbeat sent just before the deregistration may land
   * after it): undefined then.
   */
  renew(pool: string, url: string, ttlS: number): Promise<WorkerRecord | undefined> {
    return this.activate(pool, url, ttlS, true);
  }

  private async activate(pool: string, url: string, ttlS: number, unlessDraining: boolean): Promise<WorkerRecord | undefined> {
    const now = this.now();
    const out = await this.client
      .send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: workerItemKey(pool, url),
          UpdateExpression: 'SET #pool = :pool, #url = :url, #state = :active, expiresAt = :until, registeredAt = if_not_exists(registeredAt, :at), updatedAt = :at',
          ...(unlessDraining ? { ConditionExpression: 'attribute_not_exists(pk) OR #state = :active OR expiresAt <= :now' } : {}),
          ExpressionAttributeNames: { '#pool': 'pool', '#url': 'url', '#state': 'state' },
          ExpressionAttributeValues: {
            ':pool': { S: pool },
            ':url': { S: url },
            ':active': { S: 'active' },
            ':until': { N: String(epochSeconds(now) + ttlS) },
            ':at': { S: new Date(now).toISOString() },
            ...(unlessDraining ? { ':now': { N: String(epochSeconds(now)) } } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      )
      .catch((err: unknown) => {
        if (err instanceof ConditionalCheckFailedException) return undefined;
        throw storeFailure(err);
      });
    return out ? decodeWorker(out.Attributes ?? {}) : undefined;
  }

  /**
   * Marks a registered worker `draining` for `drainS` seconds: no new calls go to it, then its
   * registration lapses. Resolves undefined when the worker is not registered (or its
   * registration lapsed).
   */
  async deregister(pool: string, url: string, drainS: number): Promise<WorkerRecord | undefined> {
    const now = this.now();
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: workerItemKey(pool, url),
          UpdateExpression: 'SET #state = :draining, expiresAt = :until, updatedAt = :at',
          ConditionExpression: 'attribute_exists(pk) AND expiresAt > :now',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':draining': { S: 'draining' },
            ':until': { N: String(epochSeconds(now) + drainS) },
            ':now': { N: String(epochSeconds(now)) },
            ':at': { S: new Date(now).toISOString() },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return decodeWorker(out.Attributes ?? {});
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw storeFailure(err);
    }
  }

  /** Deletes a worker's registration at once (no drain). Resolves whether there was one. */
  async remove(pool: string, url: string): Promise<boolean> {
    const out = await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: workerItemKey(pool, url), ReturnValues: 'ALL_OLD' }));
    return out.Attributes !== undefined;
  }

  /**
   * The pool's registrations that have not lapsed (active and draining), in URL order: one
   * strongly consistent Query (a registration is visible to the next read, in every instance).
   */
  async live(pool: string): Promise<WorkerRecord[]> {
    const items = await queryAll(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': workerPartitionKey(pool) },
      ConsistentRead: true,
    });
    const nowS = this.now() / 1000;
    return items.map(decodeWorker).filter((w) => w.expiresAt > nowS);
  }
}

/** Whole seconds since the epoch (DynamoDB TTL's unit). */
function epochSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}
