/**
 * `npm start` on the synthesized stack: synthesizes (or reuses the cached synth), reads the cloud
 * assembly, creates the template's tables in the embedded store and seeds the config's tenants,
 * loads the Lambda bundles in-process, runs the state machine's ASL with aws-local-stepfunctions
 * behind a local Step Functions endpoint, and serves the REST API's routes over the gateway's
 * streaming handler. Everything on 127.0.0.1; no Docker, no AWS account.
 *
 * One local substitution: the config in the template has `simulate` pools with no endpoints. The
 * simulators are started from that config and the functions' `SPLITSERVE_CONFIG` is replaced by
 * the same config with the simulators' endpoints (`withEndpoints`) before the bundles load.
 * Everything else comes from the template: table names and keys, environment variables, handler
 * names, the ASL, the API's methods and paths, its gateway responses (what API Gateway answers itself).
 *
 * One local addition: `GET /metrics`, `/status` and `/status.json`, answered by this process from
 * the metrics its functions feed it (local/observability-routes.ts); the deployed API has none.
 */
import type { AccessEntry } from '../access-log.ts';
import { observeRequests } from '../access-log.ts';
import { withEndpoints } from '../../lambda/backends/pool-directory.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { FUNCTION_ENV } from '../../lambda/handlers/function-env.ts';
import { sweepAtStart } from '../../lambda/store/open-requests.ts';
import { seedFromConfig, seedingSummary } from '../../lambda/store/seed.ts';
import { TABLE_ENV } from '../../lambda/store/table-schema.ts';
import { createTables } from '../../lambda/store/tables.ts';
import type { SimFaults } from '../../sim/index.ts';
import { MetricsAggregate } from '../../lambda/core/metrics-aggregate.ts';
import { apiGatewayListener } from '../apigw-emulator.ts';
import type { StreamingLambdaHandler } from '../apigw-emulator.ts';
import { openLocalStore } from '../embedded-dynamo.ts';
import { listen } from '../http-adapter.ts';
import { installLambdaGlobals } from '../lambda-globals.ts';
import { observabilityRoutes, withLocalRoutes } from '../observability-routes.ts';
import { startSimulatedPools } from '../simulated-pools.ts';
import type { LocalGateway } from '../start-local.ts';
import { loadConfigFile } from '../start-local.ts';
import { apiRoutesFromTemplate } from './api-routes.ts';
import type { ApiRoute } from './api-routes.ts';
import { readCloudAssembly, resourcesOfType } from './cloud-assembly.ts';
import { gatewayResponsesFromTemplate } from './gateway-responses.ts';
import { loadLocalFunctions, localFunctionOverrides } from './local-lambda.ts';
import { tableDefinitionsFromTemplate } from './local-tables.ts';
import { serveStepFunctions } from './sfn-endpoint.ts';
import { createLocalStateMachine } from './state-machine-runner.ts';
import type { ExecutionRecord, LocalStateMachine } from './state-machine-runner.ts';
import { synthesize } from './synth.ts';
import type { SynthResult } from './synth.ts';
import { createTemplateResolver, LOCAL_PSEUDO_PARAMETERS } from './template-resolver.ts';
import { assertLocalCredentials } from '../local-credentials.ts';

/** Options of {@link startStack}. */
export interface StartStackOptions {
  /** The config file: synthesized as a deploy would (without tenants); its tenants are seeded. */
  readonly configPath: string;
  /** @default 8787; 0 = ephemeral */
  readonly port?: number;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Progress lines (synth, store, functions, ready). */
  readonly onProgress?: (message: string) => void;
  /**
   * Where the cloud assembly is cached.
   * @default DEFAULT_ASSEMBLY_DIR (.splitserve/cdk.out)
   */
  readonly assemblyDir?: string;
  /**
   * A fixed wait before each state machine retry (ms) instead of the ASL's intervals (tests).
   * @default undefined (the definition's intervals)
   */
  readonly retryIntervalMs?: number;
  /**
   * Extra variables for every function, over the template's (e.g. `POWERTOOLS_LOG_LEVEL`).
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * A DynamoDB-compatible store to use instead of an embedded one (`splitserve store`, DynamoDB
   * Local): the template's tables are created when missing and the config's tenants seeded.
   * @default undefined (an embedded store in this process)
   */
  readonly storeEndpoint?: string;
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
  /** Put the config's tenants back as written, over what the store holds (`--reseed`). @default false */
  readonly reseed?: boolean;
}

/** A running local stack: the {@link LocalGateway} shape (without the in-process runtime), plus the stack's parts. */
export interface LocalStack extends Omit<LocalGateway, 'runtime'> {
  /** The synth that produced the assembly (cached or not, how long). */
  readonly synth: SynthResult;
  /** The local Step Functions endpoint (`AWS_ENDPOINT_URL_SFN` of the functions). */
  readonly sfnEndpoint: string;
  /** The API's routes, from the template. */
  readonly routes: readonly ApiRoute[];
  /** Logical id → local ARN of each function loaded. */
  readonly functions: Readonly<Record<string, string>>;
  /** The state machine's ARN. */
  readonly stateMachineArn: string;
  /** Executions of the state machine(s), oldest first, with their histories. */
  executions(): readonly ExecutionRecord[];
  /** Sets the fault plan of every simulator replica of a pool. */
  setFaults(pool: string, faults: SimFaults): void;
}

function only<T>(items: readonly T[], what: string): T {
  if (items.length !== 1) throw new Error(`the template has ${items.length} ${what}; the local runtime expects exactly one`);
  return items[0]!;
}

/**
 * Starts the synthesized stack locally; undoes everything it started when a step fails.
 *
 * @example
 * const stack = await startStack({ configPath: 'splitserve.config.json', port: 0, onProgress: console.log });
 * // OpenAI base URL: `${stack.url}/v1`
 * await stack.close();
 */
export async function startStack(options: StartStackOptions): Promise<LocalStack> {
  const started = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const original = await loadConfigFile(options.configPath);
  assertLocalCredentials(original);
  const closers: Array<() => Promise<void> | void> = [];
  let closing: Promise<void> | undefined;
  // Last started, first stopped; once, however often close() is called.
  const closeAll = () =>
    (closing ??= (async () => {
      for (const close of [...closers].reverse()) await Promise.resolve().then(close).catch(() => undefined);
    })());
  try {
    // The store first: a port already taken fails at once, not after a synth of half a minute.
    const store = await openLocalStore(options.storeEndpoint, options.storePort);
    closers.push(() => store.close());
    const synth = await synthesize({ configPath: options.configPath, outDir: options.assemblyDir, onProgress: progress });
    const stack = await readCloudAssembly(synth.outDir);
    const resolver = createTemplateResolver(stack.template);

    // The deployed functions' environment: one config and one pair of table names for all.
    const fnEnvs = resourcesOfType(stack.template, 'AWS::Lambda::Function').map(
      ([, r]) => (resolver.resolve(r.Properties?.Environment ?? {}) as { Variables?: Record<string, string> }).Variables ?? {},
    );
    const pick = (name: string) => only([...new Set(fnEnvs.map((e) => e[name]).filter((v): v is string => v !== undefined))], `distinct values of ${name}`);
    const templateConfig: SplitserveConfig = parseConfig(JSON.parse(pick(FUNCTION_ENV.config)), `${FUNCTION_ENV.config} of the template`);
    const configTable = pick(TABLE_ENV.config);

    const tables = tableDefinitionsFromTemplate(stack.template, resolver);
    await createTables(store.client, tables.map((t) => t.input));
    const seeded = await seedFromConfig(store.client, { config: configTable }, original, { reset: options.reseed });
    progress(`${options.storeEndpoint ? `store ${store.endpoint}` : 'embedded store'}: ${tables.length} tables from the template, ${seedingSummary(seeded)}`);
    // What a killed gateway on this store left open is billed now (lambda/store/open-requests.ts).
    await sweepAtStart(store.client, pick(TABLE_ENV.usage));

    const sims = await startSimulatedPools(templateConfig);
    closers.push(() => sims.close());
    const localConfig = withEndpoints(templateConfig, sims.endpoints);
    progress(`simulators: ${Object.entries(sims.endpoints).map(([pool, urls]) => `${pool}×${urls.length}`).join(', ') || 'none'}`);

    const machines = new Map<string, LocalStateMachine>();
    const sfn = await serveStepFunctions(machines, 0, '127.0.0.1');
    closers.push(() => sfn.close());

    installLambdaGlobals();
    const region = LOCAL_PSEUDO_PARAMETERS['AWS::Region'];
    // The functions run in this process: each feeds this aggregate (and reports its pools) as it
    // emits its EMF, and the server below reads it on GET /metrics and /status.json.
    const metrics = new MetricsAggregate({ tiers: localConfig.tiers });
    const fns = await loadLocalFunctions({
      stack,
      resolver,
      observe: metrics,
      overrides: {
        ...localFunctionOverrides(region, { dynamodb: store.endpoint, sfn: sfn.url }),
        [FUNCTION_ENV.config]: JSON.stringify(localConfig),
        // EMF lines are for CloudWatch: locally they are written only at DEBUG (one JSON line per request on
        // stdout otherwise, and their serialization was ~5% of the runtime's CPU under load).
        POWERTOOLS_METRICS_DISABLED: String((options.environment?.POWERTOOLS_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? '').toUpperCase() !== 'DEBUG'),
        ...options.environment,
      },
    });
    closers.push(() => fns.restoreEnvironment());
    closers.push(() => fns.drain(5000));
    progress(`loaded ${fns.functions.length} functions from ${stack.directory}`);

    for (const [logicalId, resource] of resourcesOfType(stack.template, 'AWS::StepFunctions::StateMachine')) {
      const props = resolver.resolve(resource.Properties ?? {}) as { DefinitionString?: string; Definition?: unknown };
      const definition = props.DefinitionString ?? JSON.stringify(props.Definition);
      const arn = resolver.arnOf(logicalId);
      machines.set(arn, createLocalStateMachine({ arn, definition, findFunction: fns.find, retryIntervalMs: options.retryIntervalMs }));
    }
    const stateMachineArn = only([...machines.keys()], 'state machines');

    const routes = apiRoutesFromTemplate(stack.template, resolver);
    const target = only([...new Set(routes.map((r) => r.functionArn))], 'API integration targets');
    const gatewayFn = target ? fns.find(target) : undefined;
    if (!gatewayFn) throw new Error(`the API integrates ${String(target)}, which is not a function of the stack`);
    // What API Gateway answers itself (unknown route, body over 10 MB, …): the template's gateway responses.
    const gatewayResponses = gatewayResponsesFromTemplate(stack.template, resolver);
    // GET /metrics, /status and /status.json are the local process's own, answered before the
    // emulated API Gateway (which, as deployed, has no such routes).
    const apiGateway = apiGatewayListener(gatewayFn.handler as unknown as StreamingLambdaHandler, routes, gatewayFn.name, gatewayResponses);
    const server = await listen(withLocalRoutes(apiGateway, observabilityRoutes(metrics)), options.port ?? 8787, options.host ?? '127.0.0.1');
    if (options.onRequest) observeRequests(server.server, options.onRequest);
    closers.push(() => server.close());
    progress(`ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    return {
      url: server.url,
      port: server.port,
      storeEndpoint: store.endpoint,
      config: { ...localConfig, tenants: original.tenants },
      metrics,
      simulators: sims.endpoints,
      synth,
      sfnEndpoint: sfn.url,
      routes,
      functions: Object.fromEntries(fns.functions.map((f) => [f.logicalId, f.arn])),
      stateMachineArn,
      executions: () => [...machines.values()].flatMap((m) => m.executions()),
      setFaults: (pool, faults) => {
        const urls = new Set(sims.endpoints[pool] ?? []);
        if (urls.size === 0) throw new Error(`pool "${pool}" has no simulators`);
        for (const handle of sims.handles) if (urls.has(handle.url)) handle.setFaults(faults);
      },
      close: async ({ drainMs = 0 } = {}) => {
        server.stopAccepting();
        await fns.shutdown(drainMs);
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
