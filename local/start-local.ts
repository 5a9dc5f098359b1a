/**
 * `splitserve start`: the gateway on a laptop. Starts the simulators that `simulate` pools ask
 * for, an embedded DynamoDB-compatible store with the tables and the config's tenants, and serves
 * the gateway over HTTP, with the process's `GET /metrics`, `/status` and `/status.json`
 * (local/observability-routes.ts). Everything on 127.0.0.1; no Docker, no AWS account.
 */
import type { AccessEntry } from './access-log.ts';
import { observeRequests } from './access-log.ts';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { withEndpoints } from '../lambda/backends/pool-directory.ts';
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { parseConfig } from '../lambda/core/config.ts';
import { ConfigError } from '../lambda/core/errors.ts';
import type { GatewayLogger } from '../lambda/core/logger.ts';
import type { GatewayRuntime } from '../lambda/handlers/gateway-runtime.ts';
import { assembleGateway } from '../lambda/handlers/gateway-runtime.ts';
import { sweepAtStart } from '../lambda/store/open-requests.ts';
import { seedFromConfig, seedingSummary } from '../lambda/store/seed.ts';
import { LOCAL_TABLE_NAMES } from '../lambda/store/table-schema.ts';
import { createTables, tableDefinitions } from '../lambda/store/tables.ts';
import { openLocalStore } from './embedded-dynamo.ts';
import { assertLocalCredentials } from './local-credentials.ts';
import { MetricsAggregate } from '../lambda/core/metrics-aggregate.ts';
import type { RunningServer } from './http-adapter.ts';
import { listen, nodeHandler } from './http-adapter.ts';
import { observabilityRoutes, withLocalRoutes } from './observability-routes.ts';
import { startSimulatedPools } from './simulated-pools.ts';

/** The config bundled with splitserve: simulated Trainium-prefill / Cerebras-decode pools and a dev tenant. */
export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../splitserve.config.json', import.meta.url));


/** Options of {@link startLocal}. */
export interface StartLocalOptions {
  /** A parsed config, or the path of a config file. */
  readonly config: SplitserveConfig | string;
  /** @default 8787; 0 = ephemeral */
  readonly port?: number;
  readonly host?: string;
  readonly logger?: GatewayLogger;
  /** Clock of the admission windows. @default Date.now */
  readonly now?: () => number;
  /**
   * A DynamoDB-compatible store to use instead of an embedded one (`splitserve store`, DynamoDB
   * Local): its tables are created when missing and the config's tenants seeded.
   * @default undefined (an embedded store in this process)
   */
  readonly storeEndpoint?: string;
  /** Put the config's tenants back as written, over what the store holds (`--reseed`). @default false */
  readonly reseed?: boolean;
  /**
   * Port of the embedded store on 127.0.0.1 (without `storeEndpoint`).
   * @default 0 (any free port; the CLI passes DEFAULT_STORE_PORT)
   */
  readonly storePort?: number;
  /**
   * Called once per request the gateway's HTTP server answered, when the response ended (the CLI
   * prints it as an access-log line at INFO).
   * @default none
   */
  readonly onRequest?: (entry: AccessEntry) => void;
  /** Progress lines (store, seeding). @default none */
  readonly onProgress?: (message: string) => void;
}

/** Options of {@link LocalGateway.close}. */
export interface CloseOptions {
  /**
   * How long in-flight requests may run before each is ended with a 503 `server_shutting_down`
   * (a stream: an error event, then `[DONE]`) and metered. New requests are refused meanwhile.
   * @default 0
   */
  readonly drainMs?: number;
}

/** A running local gateway. */
export interface LocalGateway {
  readonly url: string;
  readonly port: number;
  /** The store's endpoint (for `splitserve admin --endpoint`). */
  readonly storeEndpoint: string;
  readonly config: SplitserveConfig;
  readonly runtime: GatewayRuntime;
  /** The process's metrics, served on `GET /metrics` and `/status.json`. */
  readonly metrics: MetricsAggregate;
  /** Pool name → endpoints of the simulators started for it. */
  readonly simulators: Record<string, string[]>;
  /** Stops taking requests, drains the in-flight ones (see {@link CloseOptions}), stops everything. */
  close(options?: CloseOptions): Promise<void>;
}

/** Reads and validates a config file; errors name the file and the bad field. */
export async function loadConfigFile(path: string): Promise<SplitserveConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  return parseConfig(json, `config file ${path}`);
}

/** Starts simulators, the embedded store and the gateway; undoes everything on failure. */
export async function startLocal(options: StartLocalOptions): Promise<LocalGateway> {
  const config = typeof options.config === 'string' ? await loadConfigFile(options.config) : options.config;
  assertLocalCredentials(config);
  const closers: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  // Once only, newest first; a second call waits for the first.
  const closeAll = () =>
    (closing ??= (async () => {
      for (const close of [...closers].reverse()) await close().catch(() => undefined);
    })());
  try {
    const sims = await startSimulatedPools(config);
    closers.push(() => sims.close());
    const store = await openLocalStore(options.storeEndpoint, options.storePort);
    closers.push(() => store.close());
    await createTables(store.client, tableDefinitions(LOCAL_TABLE_NAMES));
    const seeded = await seedFromConfig(store.client, LOCAL_TABLE_NAMES, config, { reset: options.reseed });
    options.onProgress?.(seedingSummary(seeded));
    // What a killed gateway on this store left open is billed now (lambda/store/open-requests.ts).
    await sweepAtStart(store.client, LOCAL_TABLE_NAMES.usage, options.logger);
    const resolved = withEndpoints(config, sims.endpoints);
    const metrics = new MetricsAggregate({ tiers: resolved.tiers });
    const runtime = assembleGateway({
      config: resolved,
      dynamo: store.client,
      tables: LOCAL_TABLE_NAMES,
      logger: options.logger,
      now: options.now,
      metrics: (pools) => {
        metrics.watchPools(pools);
        return metrics;
      },
    });
    closers.push(() => runtime.close());
    const server: RunningServer = await listen(withLocalRoutes(nodeHandler(runtime.gateway), observabilityRoutes(metrics)), options.port ?? 8787, options.host ?? '127.0.0.1');
    if (options.onRequest) observeRequests(server.server, options.onRequest);
    closers.push(() => server.close());
    return {
      url: server.url,
      port: server.port,
      storeEndpoint: store.endpoint,
      config: resolved,
      runtime,
      metrics,
      simulators: sims.endpoints,
      close: async ({ drainMs = 0 } = {}) => {
        server.stopAccepting();
        await runtime.shutdown(drainMs);
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
