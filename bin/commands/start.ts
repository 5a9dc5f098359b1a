/**
 * `splitserve start [--config FILE] [--port N] [--host H]`: the gateway locally.
 */
import { ConfigError } from '../../lambda/core/errors.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile, startLocal } from '../../local/start-local.ts';
import { startStack } from '../../local/stack/start-stack.ts';
import { DEFAULT_DRAIN_MS } from '../../lambda/core/drain.ts';
import { commandOptions, isPort, untilStopped } from './command-line.ts';

const HELP = `usage: splitserve start [--config FILE] [--port N] [--host HOST] [--runtime stack|node] [--store URL] [--reseed]

Runs the gateway on http://HOST:PORT over the pools of the config file: pools with "simulate"
get simulator replicas, pools with "endpoints" are called as they are. Tenants and keys of the
config are seeded into an embedded DynamoDB-compatible store, or into the one given by --store.

  --config FILE     config file (default: the bundled splitserve.config.json)
  --port N          port (default: $PORT or 8787)
  --host HOST       interface (default: 127.0.0.1)
  --runtime stack   (default) synthesize the CDK stack (cached when nothing changed) and execute
                    it: tables from the template, the bundled Lambda handlers behind the API
                    routes, non-streaming requests through the synthesized state machine
  --runtime node    the gateway core over a plain Node HTTP server, in-process executor, no synth
  --store URL       a DynamoDB-compatible store in another process (splitserve store, DynamoDB
                    Local) instead of the embedded one: tables are created when missing, tenants
                    seeded, and its data outlives the gateway
  --reseed          put the config's tenants back as the config writes them (tiers, limits,
                    status, every configured key live again). Without it, a tenant the store
                    already has is left as stored, so admin changes survive a restart
  --drain-ms N      on Ctrl-C / SIGTERM, how long in-flight requests may run before each is ended
                    with an error (streams: an error event and [DONE]), metered (default 10000)
`;

/** Runs `splitserve start` until SIGINT/SIGTERM; resolves the exit code. */
export async function startCommand(args: string[]): Promise<number> {
  const values = commandOptions(
    args,
    {
      config: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      runtime: { type: 'string', default: 'stack' },
      store: { type: 'string' },
      reseed: { type: 'boolean', default: false },
      'drain-ms': { type: 'string', default: String(DEFAULT_DRAIN_MS) },
      help: { type: 'boolean', short: 'h' },
    },
    HELP,
  );
  if (typeof values === 'number') return values;
  const portText = values.port ?? process.env.PORT ?? '8787';
  const port = Number(portText);
  if (!isPort(port)) {
    process.stderr.write(`invalid port "${portText}"\n`);
    return 2;
  }
  if (values.runtime !== 'stack' && values.runtime !== 'node') {
    process.stderr.write(`invalid --runtime "${values.runtime}": expected stack or node\n`);
    return 2;
  }
  if (values.store !== undefined && !isHttpUrl(values.store)) {
    process.stderr.write(`invalid --store "${values.store}": expected an http(s) URL such as http://127.0.0.1:4567\n`);
    return 2;
  }
  const drainMs = Number(values['drain-ms']);
  if (!Number.isInteger(drainMs) || drainMs < 0) {
    process.stderr.write(`invalid --drain-ms "${values['drain-ms']}": expected a whole number of milliseconds\n`);
    return 2;
  }
  const storeEndpoint = values.store;
  const started = performance.now();
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  const host = values.host ?? '127.0.0.1';
  let local;
  try {
    // The stack runtime validates the config itself, first thing, with the same messages.
    local =
      values.runtime === 'stack'
        ? await startStack({
            configPath,
            port,
            host,
            onProgress: (m) => process.stderr.write(`splitserve: ${m}\n`),
            storeEndpoint,
            reseed: values.reseed,
            // The template sets the functions' log level; a level set in the shell wins locally.
            ...(process.env.POWERTOOLS_LOG_LEVEL ? { environment: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL } } : {}),
          })
        : await startLocal({ config: await loadConfigFile(configPath), port, host, storeEndpoint, reseed: values.reseed, onProgress: (m) => process.stderr.write(`splitserve: ${m}\n`) });
  } catch (err) {
    process.stderr.write(`splitserve: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
  const devKey = local.config.tenants[0]?.apiKeys[0];
  // The stack runtime's config is the template's, which never holds the deploy-only blocks: ask the file.
  const fileConfig = values.runtime === 'stack' ? await loadConfigFile(configPath) : local.config;
  const deployOnly = (['vpc', 'alarms'] as const).filter((key) => fileConfig[key] !== undefined);
  process.stdout.write(
    [
      `splitserve listening on ${local.url} (${values.runtime} runtime, ready in ${Math.round(performance.now() - started)} ms)`,
      `  pools: ${Object.entries(local.config.pools).map(([name, p]) => `${name}=${p.endpoints?.length ?? 0}×${p.protocol}`).join(', ')}`,
      `  tiers: ${Object.keys(local.config.tiers).join(', ')}`,
      ...(deployOnly.length > 0 ? [`  ${deployOnly.join(', ')}: deploy only, ignored by local runs`] : []),
      devKey ? `  dev key (tenant "${local.config.tenants[0]!.id}"): ${maskKey(devKey)} (the first of its apiKeys in ${configPath})` : '  no tenants in the config: create a key with splitserve admin',
      `  ${storeEndpoint ? 'DynamoDB' : 'embedded DynamoDB'}: ${local.storeEndpoint} (splitserve admin --endpoint ${local.storeEndpoint} …)`,
      `  status: ${local.url}/status (live TTFT/TPOT against the SLOs), metrics: ${local.url}/metrics (Prometheus text)`,
      `  try: curl ${local.url}/v1/chat/completions -H "Authorization: Bearer <key>" -H 'content-type: application/json' -d '{"model":"${Object.keys(local.config.models)[0]}","service_tier":"priority","messages":[{"role":"user","content":"hi"}]}'`,
      '',
    ].join('\n'),
  );
  await untilStopped();
  process.stdout.write(`splitserve: stopping (in-flight requests have ${drainMs} ms to finish)\n`);
  await local.close({ drainMs });
  return 0;
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
