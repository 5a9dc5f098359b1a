/**
 * The fault matrix's targets: the gateway core in-process over the Node adapter (with the store
 * client's fault switch), and the synthesized stack (Step Functions executor), both over
 * {@link FAULT_CONFIG}.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { withEndpoints } from '../../lambda/backends/pool-directory.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { assembleGateway } from '../../lambda/handlers/gateway-runtime.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import { usageRecords, usageReport } from '../../lambda/store/usage-report.ts';
import { dayKey } from '../../lambda/store/usage-items.ts';
import { localDynamoClient, startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { serveGateway } from '../../local/http-adapter.ts';
import { startSimulatedPools } from '../../local/simulated-pools.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { StoreFaults, startStoreFaultProxy } from '../helpers/store-faults.ts';
import { startTestStack } from '../local/stack/fixture.ts';
import type { FaultPool, FaultTarget } from './fault-scenarios.ts';
import { FAULT_CONFIG, FAULT_TENANT } from './fault-scenarios.ts';

/** Reads the tenant's usage from a store. */
function usageReader(dynamo: DynamoDBClient, table: () => Promise<string>): Pick<FaultTarget, 'records' | 'aggregates'> {
  return {
    records: async () => usageRecords(dynamo, await table(), FAULT_TENANT, Date.now()),
    aggregates: async () => {
      const today = dayKey(Date.now());
      return (await usageReport(dynamo, await table(), FAULT_TENANT, today, today)).tiers;
    },
  };
}

/**
 * The gateway core over the Node adapter, as `npm start -- --runtime node` assembles it, except
 * that its DynamoDB client (a real one, on the embedded store) carries the test's fault switch.
 */
export async function startInProcessFaultTarget(): Promise<FaultTarget> {
  const config = parseConfig(FAULT_CONFIG);
  const sims = await startSimulatedPools(config);
  const store = await startEmbeddedDynamo();
  const faults = new StoreFaults().attach(store.client);
  await createTables(store.client, tableDefinitions(LOCAL_TABLE_NAMES));
  await seedFromConfig(store.client, LOCAL_TABLE_NAMES, config);
  const runtime = assembleGateway({
    config: withEndpoints(config, sims.endpoints),
    dynamo: store.client,
    tables: LOCAL_TABLE_NAMES,
    logger: silentLogger,
  });
  const server = await serveGateway(runtime.gateway, 0);
  const reader = localDynamoClient(store.endpoint);
  const sim = (pool: FaultPool): SimulatorHandle => sims.handles.find((h) => h.url === sims.endpoints[pool]?.[0])!;
  return {
    url: server.url,
    store: faults,
    setFaults: async (pool, plan) => sim(pool).setFaults(plan),
    calls: async (pool) => sim(pool).stats().calls,
    ...usageReader(reader, async () => LOCAL_TABLE_NAMES.usage),
    flush: () => runtime.flush(),
    close: async () => {
      await server.close();
      await runtime.close().catch(() => undefined);
      reader.destroy();
      await store.close();
      await sims.close();
    },
  };
}

/**
 * The synthesized stack over {@link FAULT_CONFIG}: non-streamed requests on the Step Functions
 * executor. Its functions build their own store clients from `AWS_ENDPOINT_URL_DYNAMODB`, so the
 * store faults are injected by a proxy in front of the embedded store.
 */
export async function startStackFaultTarget(): Promise<FaultTarget> {
  const store = await startEmbeddedDynamo();
  const faults = new StoreFaults();
  const proxy = await startStoreFaultProxy(store.endpoint, faults);
  const stack = await startTestStack({ config: FAULT_CONFIG, cache: 'cdk.out.test-faults', storeEndpoint: proxy.endpoint });
  let usageTable: string | undefined;
  const table = async (): Promise<string> =>
    (usageTable ??= (await store.client.send(new ListTablesCommand({}))).TableNames?.find((n) => /usage/i.test(n)) ?? 'no usage table');
  const endpoint = (pool: FaultPool): string => stack.simulators[pool]![0]!;
  return {
    url: stack.url,
    store: faults,
    setFaults: async (pool, plan) => stack.setFaults(pool, plan),
    calls: async (pool) => ((await (await fetch(`${endpoint(pool)}/sim/stats`)).json()) as { calls: number }).calls,
    ...usageReader(store.client, table),
    // The functions flush after each response; nothing is left to flush from here.
    flush: async () => undefined,
    close: async () => {
      await stack.close();
      await proxy.close();
      await store.close();
    },
  };
}
