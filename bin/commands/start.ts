/**
 * `splitserve start` (`npm start -- …`): the gateway locally, until Ctrl-C. Start-up progress on
 * stderr with the seconds since the start, then a banner on stdout whose hints run as printed,
 * then one access-log line per request at the `info` log level (`--log-level`, `$LOG_LEVEL`).
 */
import { createServer } from 'node:net';
import { ConfigError } from '../../lambda/core/errors.ts';
import { DEFAULT_STORE_PORT } from '../../local/embedded-dynamo.ts';
import { formatAccessLine } from '../../local/access-log.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile, startLocal } from '../../local/start-local.ts';
import { startStack } from '../../local/stack/start-stack.ts';
import { DEFAULT_DRAIN_MS } from '../../lambda/core/drain.ts';
import { CommandFailure, CommandLineError, HOW_TO_RUN, parseCommandLine, portOption, runCommand, untilStopped } from './command-line.ts';

/** Log levels of `--log-level` / `$LOG_LEVEL`, most verbose first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const HELP = `usage: npm start -- [--config FILE] [--port N] [--host HOST] [--runtime stack|node] [--store URL | --store-port N] [--reseed] [--log-level LEVEL] [--drain-ms N]

Runs the gateway on http://HOST:PORT over the pools of the config file until Ctrl-C: pools with
"simulate" get simulator replicas, pools with "endpoints" are called as they are. Tenants and keys
of the config are seeded into an embedded DynamoDB-compatible store, or into the one given by --store.

  --config FILE     config file (default: the bundled splitserve.config.json)
  --port N          port (default: $PORT or 8787)
  --host HOST       interface (default: 127.0.0.1)
  --runtime stack   (default) synthesize the CDK stack (cached when nothing changed) and execute
                    it: tables from the template, the bundled Lambda handlers behind the API
                    routes, non-streaming requests through the synthesized state machine
  --runtime node    the gateway core over a plain Node HTTP server, in-process executor, no synth
  --store URL       a DynamoDB-compatible store in another process (npm run store, DynamoDB
                    Local) instead of the embedded one: tables are created when missing, tenants
                    seeded, and its data outlives the gateway
  --store-port N    port of the embedded store on 127.0.0.1; 0 picks a free one (default: ${DEFAULT_STORE_PORT})
  --reseed          put the config's tenants back as the config writes them (tiers, limits,
                    status, every configured key live again). Without it, a tenant the store
                    already has is left as stored, so admin changes survive a restart
  --log-level L     ${LOG_LEVELS.join(' | ')} (default: $LOG_LEVEL or info). info: one access-log line
                    per request on stdout, and the gateway's JSON records of notable requests
                    (failures, aborts, tier changes); debug: every request's record and the
                    per-request EMF metrics lines too; warn, error: no access log
  --drain-ms N      on Ctrl-C / SIGTERM, how long in-flight requests may run before each is ended
                    with an error (streams: an error event and [DONE]), metered (default 10000)
  -h, --help        show this help
`;

/** The options of `splitserve start`, as the parser and the docs test read them. */
export const START_OPTIONS = {
  config: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  runtime: { type: 'string', default: 'stack' },
  store: { type: 'string' },
  'store-port': { type: 'string', default: String(DEFAULT_STORE_PORT) },
  reseed: { type: 'boolean', default: false },
  'log-level': { type: 'string' },
  'drain-ms': { type: 'string', default: String(DEFAULT_DRAIN_MS) },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Runs `splitserve start` until SIGINT/SIGTERM; resolves the exit code. */
export function startCommand(args: string[]): Promise<number> {
  return runCommand('start', () => start(args));
}

async function start(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, START_OPTIONS);
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const port = portOption('--port', values.port ?? process.env.PORT ?? '8787');
  if (values.runtime !== 'stack' && values.runtime !== 'node') throw new CommandLineError(`invalid --runtime "${values.runtime}": expected stack or node`);
  if (values.store !== undefined && !isHttpUrl(values.store)) throw new CommandLineError(`invalid --store "${values.store}": expected an http(s) URL such as http://127.0.0.1:${DEFAULT_STORE_PORT}`);
  const storePort = portOption('--store-port', values['store-port']);
  const drainMs = Number(values['drain-ms']);
  if (!Number.isInteger(drainMs) || drainMs < 0) throw new CommandLineError(`invalid --drain-ms "${values['drain-ms']}": expected a whole number of milliseconds`);
  const logLevel = logLevelOf(values['log-level']);
  const storeEndpoint = values.store;
  const started = performance.now();
  const progress = (message: string): void => {
    process.stderr.write(`splitserve: ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${message}\n`);
  };
  const onRequest = logLevel === 'debug' || logLevel === 'info' ? (entry: Parameters<typeof formatAccessLine>[0]) => process.stdout.write(`${formatAccessLine(entry)}\n`) : undefined;
  // The gateway's logger (Powertools) takes its level from the environment, in both runtimes; the
  // stack runtime writes its per-request EMF lines only at DEBUG.
  const powertoolsLevel = logLevel.toUpperCase();
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  const host = values.host ?? '127.0.0.1';
  let local;
  try {
    // A gateway port already taken is said at once, not after the stack runtime's synth.
    if (port !== 0) await assertFreePort(host, port);
    // The stack runtime validates the config itself, first thing, with the same messages.
    local =
      values.runtime === 'stack'
        ? await startStack({ configPath, port, host, onProgress: progress, storeEndpoint, storePort, reseed: values.reseed, onRequest, environment: { POWERTOOLS_LOG_LEVEL: powertoolsLevel } })
        : await startNode({ configPath, port, host, storeEndpoint, storePort, reseed: values.reseed, onRequest, onProgress: progress, powertoolsLevel });
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandFailure(err.message, 'fix the file, or see docs/configuration.md');
    if ((err as { code?: string }).code === 'EADDRINUSE') throw portInUse(err as { port?: number }, port, storePort);
    throw err;
  }
  const tenant = local.config.tenants[0];
  const devKey = tenant?.apiKeys[0];
  const admin = `${HOW_TO_RUN.admin} tenant list --endpoint ${local.storeEndpoint}`;
  const firstModel = Object.keys(local.config.models)[0];
  const bundled = configPath === DEFAULT_CONFIG_PATH && local.url === 'http://127.0.0.1:8787';
  // The stack runtime's config is the template's, which never holds the deploy-only blocks: ask the file.
  const fileConfig = values.runtime === 'stack' ? await loadConfigFile(configPath) : local.config;
  const deployOnly = (['vpc', 'alarms'] as const).filter((key) => fileConfig[key] !== undefined);
  process.stdout.write(
    [
      `splitserve listening on ${local.url} (${values.runtime} runtime, ready in ${Math.round(performance.now() - started)} ms; Ctrl-C stops it)`,
      `  pools: ${Object.entries(local.config.pools).map(([name, p]) => `${name}=${p.endpoints?.length ?? 0}×${p.protocol}`).join(', ')}`,
      `  tiers: ${Object.keys(local.config.tiers).join(', ')}`,
      ...(deployOnly.length > 0 ? [`  ${deployOnly.join(', ')}: deploy only, ignored by local runs`] : []),
      devKey ? `  dev key (tenant "${tenant!.id}"): ${maskKey(devKey)} (the first of its apiKeys in ${configPath})` : `  no tenants in the config: create one and a key with ${HOW_TO_RUN.admin} tenant create --tenant ID --endpoint ${local.storeEndpoint}`,
      `  ${storeEndpoint ? 'DynamoDB' : 'embedded DynamoDB'}: ${local.storeEndpoint} (try: ${admin})`,
      `  status: ${local.url}/status (live TTFT/TPOT against the SLOs), metrics: ${local.url}/metrics (Prometheus text)`,
      bundled
        ? '  try, in another terminal: node examples/chat-stream.mjs'
        : `  try: curl ${local.url}/v1/chat/completions -H "Authorization: Bearer <a key of the config>" -H 'content-type: application/json' -d '{"model":"${firstModel}","messages":[{"role":"user","content":"hi"}]}'`,
      `  log level ${logLevel}${onRequest ? ': one line per request below' : ''}`,
      '',
    ].join('\n'),
  );
  await untilStopped();
  process.stdout.write(`splitserve: stopping (in-flight requests have ${drainMs} ms to finish)\n`);
  await local.close({ drainMs });
  return 0;
}

async function startNode(options: {
  configPath: string;
  port: number;
  host: string;
  storeEndpoint: string | undefined;
  storePort: number;
  reseed: boolean;
  onRequest: Parameters<typeof startLocal>[0]['onRequest'];
  onProgress: (message: string) => void;
  powertoolsLevel: string;
}) {
  // This process is the gateway here: its logger reads the level when the runtime builds it.
  process.env.POWERTOOLS_LOG_LEVEL = options.powertoolsLevel;
  const { configPath, powertoolsLevel: _, ...rest } = options;
  return startLocal({ config: await loadConfigFile(configPath), ...rest });
}

/** Resolves when `port` on `host` can be listened on (and is let go at once); rejects with the listen error. */
async function assertFreePort(host: string, port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

/** `--log-level`, else `$LOG_LEVEL`, else `info`. */
function logLevelOf(flag: string | undefined): LogLevel {
  const given = flag ?? process.env.LOG_LEVEL;
  if (given === undefined || given === '') return 'info';
  const level = given.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CommandLineError(`invalid ${flag !== undefined ? '--log-level' : '$LOG_LEVEL'} "${given}": expected ${LOG_LEVELS.join(', ')}`);
  }
  return level as LogLevel;
}

function portInUse(err: { port?: number }, port: number, storePort: number): CommandFailure {
  const taken = err.port ?? port;
  if (taken === storePort && taken !== port) {
    return new CommandFailure(`the embedded store's port ${taken} is in use (another npm start, or npm run store?)`, `stop it, or pass --store-port N (0: any free port), or use that store with --store http://127.0.0.1:${taken}`);
  }
  return new CommandFailure(`port ${taken} is in use (another npm start?)`, 'stop what listens there, or pass --port N');
}

/**
 * An API key for a terminal or a log: its first 7 and last 4 characters (`sk-acme…0001`), or
 * only `…` and the last 4 when the key is too short to show more without revealing most of it.
 *
 * @example
 * maskKey('sk-acme-dev-0000000001'); // 'sk-acme…0001'
 */
export function maskKey(key: string): string {
  return key.length >= 20 ? `${key.slice(0, 7)}…${key.slice(-4)}` : `…${key.slice(-Math.min(4, Math.floor(key.length / 4)))}`;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
