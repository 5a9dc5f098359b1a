/**
 * Store faults at the AWS SDK boundary: chosen calls of a real DynamoDB client (talking to the
 * embedded store) are answered with a DynamoDB error instead of being served, as the service
 * would. Either a middleware in the client's `deserialize` step, below the SDK's retry
 * middleware, or a proxy in front of the store answering DynamoDB's wire error: either way the
 * SDK's own retries see (and count) each injected answer exactly as they would a real one.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
 * A store fault switch: {@link StoreFaults.storm} replaces the plan, `injected` counts the answers
 * it made up. Attach it to a client ({@link StoreFaults.attach}: SDK middleware) or put it in
 * front of a store for clients the test does not own ({@link startStoreFaultProxy}).
 *
 * @example
 * const faults = new StoreFaults().attach(client);
 * faults.storm({ fault: STORE_FAULTS.throughput, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(2) });
 * // … the next two window updates fail as throttled; the SDK retries them …
 * faults.clear();
 */
export class StoreFaults {
  private plan: Matching | undefined;

  /** Answers `client`'s matching calls with the storm's error (below its retry middleware). */
  attach(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const fault = this.match(String(context.commandName ?? '').replace(/Command$/, ''), args.input as Record<string, unknown>);
        if (fault) throw storeError(fault);
        return next(args);
      },
      { step: 'deserialize', name: 'splitserveTestStoreFaults', priority: 'high' },
    );
    return this;
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

  /** The fault to answer a call with (counting it), if the storm names it. */
  match(command: string, input: Record<string, unknown>): StoreFault | undefined {
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

/** A running {@link startStoreFaultProxy}. */
export interface StoreFaultProxy {
  /** The endpoint to give clients (`AWS_ENDPOINT_URL_DYNAMODB`). */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** The wire type of each fault's error, as DynamoDB answers it (AWS JSON 1.0, HTTP 400). */
const WIRE_TYPES: Record<StoreFault, string> = {
  ProvisionedThroughputExceededException: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
  ThrottlingException: 'com.amazon.coral.availability#ThrottlingException',
  ConditionalCheckFailedException: 'com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException',
};

/**
 * An HTTP proxy on 127.0.0.1 in front of a DynamoDB-compatible store: forwards every call, except
 * those `faults` names, which it answers with DynamoDB's own error response. For clients built
 * elsewhere (the stack's functions) that are pointed at its endpoint.
 *
 * @example
 * const proxy = await startStoreFaultProxy(store.endpoint, faults);
 * await startStack({ …, storeEndpoint: proxy.endpoint });
 */
export async function startStoreFaultProxy(upstream: string, faults: StoreFaults): Promise<StoreFaultProxy> {
  const target = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const command = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      let input: Record<string, unknown> = {};
      try {
        input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
      } catch {
        // not a JSON call: forwarded as it is
      }
      const fault = faults.match(command, input);
      if (fault) {
        const text = JSON.stringify({ __type: WIRE_TYPES[fault], message: `injected ${fault} (test store fault)` });
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': `fault-${faults.injected}` });
        res.end(text);
        return;
      }
      const forward = http.request(
        { agent, hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (reply) => {
          res.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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
