/**
 * `splitserve start [--config FILE] [--port N] [--host H]`: the gateway locally.
 */
import { ConfigError } from '../../lambda/core/errors.ts';
import { DEFAULT_CONFIG_PATH, loadConfigFile, startLocal } from '../../local/start-local.ts';
import { startStack } from '../../local/stack/start-stack.ts';
import { commandOptions, isPort, untilStopped } from './command-line.ts';

const HELP = `usage: splitserve start [--config FILE] [--port N] [--host HOST] [--runtime stack|node] [--store URL]

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
            // The template sets the functions' log level; a level set in the shell wins locally.
            ...(process.env.POWERTOOLS_LOG_LEVEL ? { environment: { POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL } } : {}),
          })
        : await startLocal({ config: await loadConfigFile(configPath), port, host, storeEndpoint });
  } catch (err) {
    process.stderr.write(`splitserve: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
  const devKey = local.config.tenants[0]?.apiKeys[0];
  process.stdout.write(
    [
      `splitserve listening on ${local.url} (${values.runtime} runtime, ready in ${Math.round(performance.now() - started)} ms)`,
      `  pools: ${Object.entries(local.config.pools).map(([name, p]) => `${name}=${p.endpoints?.length ?? 0}×${p.protocol}`).join(', ')}`,
      `  tiers: ${Object.keys(local.config.tiers).join(', ')}`,
      devKey ? `  dev key (tenant "${local.config.tenants[0]!.id}"): ${devKey}` : '  no tenants in the config: create a key with splitserve admin',
      `  ${storeEndpoint ? 'DynamoDB' : 'embedded DynamoDB'}: ${local.storeEndpoint} (splitserve admin --endpoint ${local.storeEndpoint} …)`,
      `  try: curl ${local.url}/v1/chat/completions -H "Authorization: Bearer ${devKey ?? '<key>'}" -H 'content-type: application/json' -d '{"model":"${Object.keys(local.config.models)[0]}","service_tier":"priority","messages":[{"role":"user","content":"hi"}]}'`,
      '',
    ].join('\n'),
  );
  await untilStopped();
  process.stdout.write('splitserve: stopping\n');
  await local.close();
  return 0;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
