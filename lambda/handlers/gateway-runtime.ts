/**
 * The composition root: assembles the gateway core with its real dependencies (the DynamoDB-backed
 * key resolver, admission and usage meter, the pool directory, the upstream transport, the
 * protocols and the plan executor) for both Lambda entry points (the gateway stream handler and
 * the Step Functions tasks) and for `npm start -- --runtime node`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { poolCredentials } from '../backends/pool-credentials.ts';
import { PoolDirectory } from '../backends/pool-directory.ts';
import { BACKEND_PROTOCOLS } from '../backends/registry.ts';
import { WorkerDiscovery } from '../backends/worker-discovery.ts';
import { workerSecret } from '../backends/worker-secret.ts';
import { UpstreamClient } from '../backends/upstream-client.ts';
import type { AdmissionConfig, SplitserveConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { PlanExecutor } from '../core/executor.ts';
import { InProcessExecutor } from '../core/executor.ts';
import { RequestDrain } from '../core/drain.ts';
import { OverloadGuard } from '../core/overload-guard.ts';
import type { Gateway } from '../core/gateway.ts';
import { createGateway } from '../core/gateway.ts';
import type { GatewayDeps } from '../core/gateway-deps.ts';
import type { GatewayLogger } from '../core/logger.ts';
import { createLogger } from '../core/logger.ts';
import type { StepDeps } from '../core/plan-steps.ts';
import type { PoolGauges, RequestMetrics, UsageMeter } from '../core/ports.ts';
import { resolveRoute } from '../core/plan-steps.ts';
import { DynamoAdmission } from '../store/admission.ts';
import type { DynamoAdmissionOptions } from '../store/admission.ts';
import { DynamoKeyResolver } from '../store/key-resolver.ts';
import type { TableNames } from '../store/tables.ts';
import { OpenRequestJournal } from '../store/open-requests.ts';
import { DynamoUsageMeter } from '../store/usage-meter.ts';
import { WorkerRegistry } from '../store/worker-registry.ts';

/** Options of {@link assembleGateway}. */
export interface GatewayRuntimeOptions {
  /** A validated config whose pools all have `endpoints` (simulators already started). */
  readonly config: SplitserveConfig;
  readonly dynamo: DynamoDBClient;
  readonly tables: TableNames;
  /** Runs non-streaming plans. @default an in-process executor */
  readonly executor?: (steps: StepDeps) => PlanExecutor;
  /** @default the Powertools logger */
  readonly logger?: GatewayLogger;
  /** Key cache bound in milliseconds (how long a revoked key may still work). @default 5000 */
  readonly keyCacheMs?: number;
  /** Clock of the admission windows. @default Date.now */
  readonly now?: () => number;
  /**
   * The metrics, given the pools whose gauges they publish: per request, per refusal and per
   * failed backend call. @default none
   */
  readonly metrics?: (pools: PoolGauges) => RequestMetrics | undefined;
  /**
   * This process's id in its open-request markers (lambda/store/open-requests.ts).
   * @default newInstanceId(): `<hostname>/<pid>/<random>`
   */
  readonly instanceId?: string;
  /**
   * Crash-safe metering: a marker per request, written while the backend works on it and awaited
   * before the first byte, so a killed process's requests are billed by the sweep. Off only to
   * measure what it costs. @default true
   */
  readonly openRequestMarkers?: boolean;
  /**
   * Read registered workers on timers too (a long-running process), not only when a request finds
   * the set due. Off in Lambda, where timers do not run between invocations. @default true
   */
  readonly discoveryTimers?: boolean;
}

/** An assembled gateway and what must be closed with it. */
export interface GatewayRuntime {
  readonly gateway: Gateway;
  readonly deps: GatewayDeps;
  /** The pool directory behind `deps.steps.pools` (its endpoints' state, for tests and logs). */
  readonly pools: PoolDirectory;
  /**
   * Makes everything of the responses so far durable: usage records and admission reconciliations.
   * The Lambda handler awaits it after each response (a frozen environment runs no timers).
   */
  flush(): Promise<void>;
  /**
   * Stops taking requests (503 `server_shutting_down`), gives the in-flight ones `drainMs` to
   * finish, ends the rest with that error, and makes their usage durable. Resolves with the
   * number ended at the deadline.
   */
  shutdown(drainMs: number): Promise<number>;
  /** Shuts down without a drain (see {@link shutdown}) and releases everything. */
  close(): Promise<void>;
}

/** Admission options from the config: shards, and leases for tenants with high limits. */
export function admissionOptions(config: AdmissionConfig): DynamoAdmissionOptions {
  const { leaseAboveRpm, leaseFraction } = config;
  return {
    shards: config.shards,
    leaseSize:
      leaseAboveRpm === undefined
        ? undefined
        : (tenant, tier) => {
            const limits = tenant.limits[tier];
            if (!limits?.rpm || limits.rpm < leaseAboveRpm) return undefined;
            return {
              requests: Math.max(1, Math.floor(limits.rpm * leaseFraction)),
              tokens: Math.max(1, Math.floor((limits.tpm ?? limits.monthlyTokens ?? 0) * leaseFraction)),
            };
          },
  };
}

/** Checks that every pool a tier routes to speaks a protocol built in this version, for that kind of route. */
export function assertProtocolsBuilt(config: SplitserveConfig): void {
  for (const [name, tier] of Object.entries(config.tiers)) {
    const route = tier?.route;
    if (!route) continue;
    try {
      resolveRoute({ config, protocols: BACKEND_PROTOCOLS }, route);
    } catch (err) {
      throw new ConfigError(`tiers.${name}.route: ${(err as Error).message}`);
    }
  }
}

/** The plan steps' dependencies, with the concrete pool directory behind their pools port. */
export interface AssembledSteps extends StepDeps {
  readonly pools: PoolDirectory;
  readonly metrics?: RequestMetrics;
  /** Reads the pools' registered workers into `pools`; undefined when no pool takes registrations or no registry was given. */
  readonly discovery?: WorkerDiscovery;
}

/**
 * What the plan steps run on: the pool directory (not started: the caller that health-checks
 * starts it) with the pools' credentials (none read yet), the `node:http` backend transport (a
 * connection pool as large as the largest `maxConnections` of the pools), the protocols built into
 * this version and the metrics, given the pool directory. Checks first that every tier's route is
 * served by them.
 */
export function assembleSteps(
  config: SplitserveConfig,
  logger: GatewayLogger,
  metrics?: (pools: PoolGauges) => RequestMetrics | undefined,
  registry?: WorkerRegistry,
): AssembledSteps {
  assertProtocolsBuilt(config);
  const connections = Math.max(...Object.values(config.pools).map((p) => p.maxConnections), 1);
  const pools = new PoolDirectory(config.pools, { logger, credentials: poolCredentials(config.pools, { logger }) });
  const discovery = registry ? new WorkerDiscovery(config.pools, registry, pools, { logger }) : undefined;
  return {
    config,
    pools,
    ...(discovery?.active ? { discovery } : {}),
    client: new UpstreamClient({ connections }),
    protocols: BACKEND_PROTOCOLS,
    metrics: metrics?.(pools),
  };
}

/** What the Step Functions task handlers share within one execution environment. */
export interface StepTaskRuntime {
  readonly steps: StepDeps;
  /**
   * A usage meter for one `Meter` invocation. One per invocation, not per environment: a record
   * whose flush failed leaves with the invocation (the state machine's Retry records it again,
   * or MeterDeferred hands it to the gateway), instead of staying queued in the environment and
   * being written a second time by a later invocation's flush.
   */
  readonly meterForInvocation: () => UsageMeter;
  /** Resolves once the registered workers are read (at most `refreshMs` old); the Prefill, Decode and Fallback tasks await it. */
  readonly discover: () => Promise<void>;
}

/** Options of {@link assembleStepTasks}. */
export interface StepTaskOptions {
  readonly config: SplitserveConfig;
  readonly dynamo: DynamoDBClient;
  readonly tables: TableNames;
  /** @default the Powertools logger */
  readonly logger?: GatewayLogger;
  /** Where the tasks' failed backend calls are counted, given their pools. @default none */
  readonly metrics?: (pools: PoolGauges) => RequestMetrics | undefined;
}

/** Builds what the Step Functions task handlers (lambda/handlers/step-tasks.ts) run on. */
export function assembleStepTasks(options: StepTaskOptions): StepTaskRuntime {
  const logger = options.logger ?? createLogger();
  const steps = assembleSteps(options.config, logger, options.metrics, new WorkerRegistry(options.dynamo, options.tables.config));
  const { discovery } = steps;
  return {
    steps,
    discover: discovery ? () => discovery.ready() : () => Promise.resolve(),
    meterForInvocation: () => new DynamoUsageMeter(options.dynamo, options.tables.usage, { logger, flushIntervalMs: 0, aggregatesAfterRecords: true }),
  };
}

/**
 * Builds the gateway.
 *
 * @example
 * const runtime = assembleGateway({ config, dynamo: client, tables: { config: 'cfg', usage: 'use' } });
 * const response = await runtime.gateway(request);
 */
export function assembleGateway(options: GatewayRuntimeOptions): GatewayRuntime {
  const { config } = options;
  const logger = options.logger ?? createLogger();
  const registry = new WorkerRegistry(options.dynamo, options.tables.config);
  const steps = assembleSteps(config, logger, options.metrics, registry);
  const { pools, client, discovery } = steps;
  pools.start();
  if (options.discoveryTimers !== false) discovery?.start();
  const journal = options.openRequestMarkers === false ? undefined : new OpenRequestJournal(options.dynamo, options.tables.usage, { logger, instanceId: options.instanceId });
  const meter = new DynamoUsageMeter(options.dynamo, options.tables.usage, { logger, onDurable: journal && ((ids) => journal.recorded(ids)) });
  const admission = new DynamoAdmission(options.dynamo, options.tables.usage, { ...admissionOptions(config.admission), now: options.now, adjustments: { logger } });
  const deps: GatewayDeps = {
    config,
    steps,
    executor: options.executor?.(steps) ?? new InProcessExecutor(steps),
    keys: new DynamoKeyResolver(options.dynamo, options.tables.config, { ttlMs: options.keyCacheMs ?? 5000 }),
    admission,
    overload: new OverloadGuard(config, pools),
    meter,
    logger,
    drain: new RequestDrain(),
    metrics: steps.metrics,
    openRequests: journal,
    ...(config.workers ? { workers: { store: registry, secret: workerSecret(config.workers.secret, { logger }) } } : {}),
  };
  // Markers go once their records are durable: after the meter's flush, whatever it wrote.
  const flushMeter = () => (journal ? meter.flush().finally(() => journal.flush()) : meter.flush());
  const flush = async () => {
    await endsReported();
    await Promise.all([flushMeter(), admission.drain()]);
  };
  const shutdown = async (drainMs: number) => {
    const ended = await deps.drain.stop(drainMs);
    if (ended > 0) logger.warn('requests ended at the drain deadline', { ended, drainMs });
    await flush();
    return ended;
  };
  const core = createGateway(deps);
  return {
    // Registered workers are read before a request is served when the set is due (worker-discovery.ts).
    gateway: discovery ? async (request) => {
      await discovery.ready();
      return core(request);
    } : core,
    deps,
    pools,
    flush,
    shutdown,
    close: async () => {
      await shutdown(0);
      pools.close();
      discovery?.close();
      await endsReported();
      await Promise.all([flushMeter(), admission.releaseLeases()]);
      await client.close();
    },
  };
}

/**
 * Resolves once every stream end reported so far has been handled: streams report their end on
 * the next turn of the event loop (lambda/core/stream-relay.ts), and immediates run in order.
 */
function endsReported(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
