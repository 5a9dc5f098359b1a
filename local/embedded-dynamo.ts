/**
 * An embedded, in-memory DynamoDB-compatible store (dynalite) running in this process, plus a
 * DynamoDB client pointed at it. Used by `npm start` (the local runtime) and by the tests.
 *
 * dynalite's limits: no TransactWriteItems, no TTL expiry, no PartiQL, and no
 * `ReturnValuesOnConditionCheckFailure` (the store code falls back to a read on the refusal path).
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** dynalite's factory (the package ships no types). */
type DynaliteFactory = (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  path?: string;
}) => Server;

const require = createRequire(import.meta.url);

/**
 * The port of the store on the command line: `npm start`'s embedded store and `splitserve store`
 * listen on 127.0.0.1:4567 unless told otherwise (`--store-port`, `--port`), so the admin CLI's
 * `--endpoint http://127.0.0.1:4567` is the same every time. The functions' default stays 0.
 */
export const DEFAULT_STORE_PORT = 4567;

/** Options of {@link startEmbeddedDynamo}. */
export interface EmbeddedDynamoOptions {
  /**
   * TCP port on 127.0.0.1.
   * @default 0 (an ephemeral port)
   */
  readonly port?: number;
}

/** A running embedded store, or a connection to one elsewhere. */
export interface EmbeddedDynamo {
  /** `http://127.0.0.1:<port>`: give it to other clients (`splitserve admin --endpoint …`). */
  readonly endpoint: string;
  readonly port: number;
  /** A client for this store (region `local`, dummy credentials). */
  readonly client: DynamoDBClient;
  /** Destroys the client and stops the store; its data is gone. */
  close(): Promise<void>;
}

/**
 * Creates a DynamoDB client for a local endpoint, with region `local` and dummy credentials.
 *
 * @example
 * const client = localDynamoClient('http://127.0.0.1:4567');
 */
export function localDynamoClient(endpoint: string, maxAttempts?: number): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
  });
}

/**
 * A DynamoDB-compatible store that runs elsewhere (`splitserve store`, DynamoDB Local, LocalStack's
 * DynamoDB): only a client; `close()` destroys the client and leaves the store and its data alone.
 *
 * @example
 * const store = connectDynamo('http://127.0.0.1:4567');
 */
export function connectDynamo(endpoint: string): EmbeddedDynamo {
  const url = new URL(endpoint);
  const client = localDynamoClient(url.origin);
  return {
    endpoint: url.origin,
    port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    client,
    close: async () => client.destroy(),
  };
}

/**
 * The store of a local gateway: the one at `endpoint` when given ({@link connectDynamo}), or an
 * embedded one started in this process ({@link startEmbeddedDynamo}) on `port` (0: any free one).
 */
export function openLocalStore(endpoint?: string, port = 0): Promise<EmbeddedDynamo> {
  return endpoint === undefined ? startEmbeddedDynamo({ port }) : Promise.resolve(connectDynamo(endpoint));
}

/**
 * Starts dynalite in-process, in memory, with table state changes taking no time, listening on
 * 127.0.0.1 only.
 *
 * @example
 * const store = await startEmbeddedDynamo();
 * await createTables(store.client, tableDefinitions({ config: 'cfg', usage: 'use' }));
 * // …
 * await store.close();
 */
export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const dynalite = require('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = localDynamoClient(endpoint);
  let closed: Promise<void> | undefined;
  return {
    endpoint,
    port,
    client,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        client.destroy();
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
