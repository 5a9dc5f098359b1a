/**
 * Store faults at the AWS SDK boundary: a middleware on a real DynamoDB client (talking to the
 * embedded store) that answers chosen calls with a DynamoDB error instead of sending them, as
 * the service would. It sits in the `deserialize` step, below the SDK's retry middleware, so the
 * SDK's own retries see (and count) each injected answer exactly as they would a real one.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';

/** The DynamoDB errors a storm can answer with. */
export const STORE_FAULTS = {
  throughput: 'ProvisionedThroughputExceededException',
  throttling: 'ThrottlingException',
  conditional: 'ConditionalCheckFailedException',
} as const;
/** One of {@link STORE_FAULTS}. */
export type StoreFault = (typeof STORE_FAULTS)[keyof typeof STORE_FAULTS];

/** Which calls a storm answers, counted from when it is set. */
export interface StoreStorm {
  readonly fault: StoreFault;
  /** The SDK command, without `Command`: `UpdateItem`, `BatchWriteItem`, `GetItem`… */
  readonly command: string;
  /** Only calls whose `Key.pk` (or, for a batch, one of its items' `pk`) starts with this. */
  readonly pkPrefix?: string;
  /** 1-based indices of the matching calls (each SDK attempt is a call) that fail. */
  readonly calls: readonly number[];
}

/** The first `n` matching calls: `[1, …, n]`. */
export function firstCalls(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

interface Matching {
  readonly storm: StoreStorm;
  seen: number;
  injected: number;
}

/**
 * The fault switch of one client. {@link StoreFaults.storm} replaces the plan; `injected` counts
 * the answers it made up.
 *
 * @example
 * const faults = new StoreFaults(client);
 * faults.storm({ fault: STORE_FAULTS.throughput, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(2) });
 * // … the next two window updates fail as throttled; the SDK retries the second attempt's failure …
 * faults.clear();
 */
export class StoreFaults {
  private plan: Matching | undefined;

  constructor(client: DynamoDBClient) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fault = this.match(String(context.commandName ?? '').replace(/Command$/, ''), args.input as Record<string, unknown>);
        if (fault) throw storeError(fault);
        return next(args);
      },
      { step: 'deserialize', name: 'splitserveTestStoreFaults', priority: 'high' },
    );
  }

  /** Fails the calls the storm names (counting matching calls from now). */
  storm(storm: StoreStorm): void {
    this.plan = { storm, seen: 0, injected: 0 };
  }

  /** No more faults. */
  clear(): void {
    this.plan = undefined;
  }

  /** Answers made up by the current storm. */
  get injected(): number {
    return this.plan?.injected ?? 0;
  }

  private match(command: string, input: Record<string, unknown>): StoreFault | undefined {
    const plan = this.plan;
    if (!plan || plan.storm.command !== command) return undefined;
    const prefix = plan.storm.pkPrefix;
    if (prefix !== undefined && !pksOf(input).some((pk) => pk.startsWith(prefix))) return undefined;
    plan.seen += 1;
    if (!plan.storm.calls.includes(plan.seen)) return undefined;
    plan.injected += 1;
    return plan.storm.fault;
  }
}

/** The partition keys a call touches (`Key`, `Item`, or a batch's items). */
function pksOf(input: Record<string, unknown>): string[] {
  type Keyed = { pk?: { S?: string } };
  const own = (input['Key'] ?? input['Item']) as Keyed | undefined;
  if (own?.pk?.S !== undefined) return [own.pk.S];
  const batch = input['RequestItems'] as Record<string, Array<{ PutRequest?: { Item?: Keyed }; DeleteRequest?: { Key?: Keyed } }>> | undefined;
  return Object.values(batch ?? {})
    .flat()
    .map((r) => (r.PutRequest?.Item ?? r.DeleteRequest?.Key)?.pk?.S)
    .filter((pk): pk is string => pk !== undefined);
}

/** The error DynamoDB answers for `fault` (status and retry classification as the service's). */
function storeError(fault: StoreFault): DynamoDBServiceException {
  const message = `injected ${fault} (test store fault)`;
  const $metadata = { httpStatusCode: 400, attempts: 1, totalRetryDelay: 0 };
  switch (fault) {
    case STORE_FAULTS.throughput:
      return new ProvisionedThroughputExceededException({ message, $metadata });
    case STORE_FAULTS.throttling:
      return new ThrottlingException({ message, $metadata });
    case STORE_FAULTS.conditional:
      return new ConditionalCheckFailedException({ message, $metadata });
  }
}
