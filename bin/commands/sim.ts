/**
 * `splitserve sim`: run one backend simulator until SIGINT/SIGTERM. Prints exactly one ready line
 * on stdout, `splitserve sim <profile> listening on http://127.0.0.1:<port>`, which parent
 * processes parse for the port.
 */
import { SCHEDULING_POLICIES, SIM_PROFILES, SIM_ROLES, isProfileName, registerWithGateway, startSimulator } from '../../sim/index.ts';
import type { Registration } from '../../sim/index.ts';
import type { SchedulingPolicy, SimRole } from '../../sim/index.ts';
import { CommandLineError, parseCommandLine, portOption, runCommand, untilStopped } from './command-line.ts';

const USAGE = `usage: npm run sim -- [options]

Runs one simulated vLLM-compatible backend (OpenAI API + kv_transfer_params).

options:
  --profile <name>   ${SIM_PROFILES.join(' | ')} (default: gpu-aggregated)
  --port <n>         port to listen on; 0 picks a free one (default: 8201)
  --host <addr>      interface (default: 127.0.0.1)
  --speedup <x>      divide every simulated duration by x (default: 1)
  --seed <n>         seed of every random choice (default: 0)
  --role <role>      ${SIM_ROLES.join(' | ')} (default: the profile's)
  --model <name>     model name listed by /v1/models (repeatable; default: llama-3.1-8b)
  --slots <n>        batch slots, as vLLM's --max-num-seqs (default: the profile's)
  --scheduling-policy <p>
                     ${SCHEDULING_POLICIES.join(' | ')}, as vLLM's --scheduling-policy (default: fcfs;
                     fcfs refuses a request whose priority is not 0, as vLLM does)
  --priority-order <o>
                     low-first (vLLM) | high-first (SGLang's default) (default: low-first)
  --prefix-cache-tokens <n>
                     prefix-cache capacity in tokens; 0: none (default: 0)
  --register <url>   register into a gateway (its base URL, e.g. http://127.0.0.1:8787) and
                     heartbeat until stopped, then deregister; needs --pool and the workers'
                     shared secret in the environment variable named by --secret-env
  --pool <name>      the pool to register into (with --register)
  --secret-env <NAME>
                     where the shared secret is read (default: SPLITSERVE_WORKER_SECRET)
  --advertise <url>  the URL the gateway calls this simulator at (default: its listening URL)
  -h, --help         show this help
`;

/** The options of `splitserve sim`. */
export const SIM_OPTIONS = {
  profile: { type: 'string', default: 'gpu-aggregated' },
  port: { type: 'string', default: '8201' },
  host: { type: 'string', default: '127.0.0.1' },
  speedup: { type: 'string', default: '1' },
  seed: { type: 'string', default: '0' },
  role: { type: 'string' },
  model: { type: 'string', multiple: true },
  slots: { type: 'string' },
  'scheduling-policy': { type: 'string', default: 'fcfs' },
  'priority-order': { type: 'string', default: 'low-first' },
  'prefix-cache-tokens': { type: 'string', default: '0' },
  register: { type: 'string' },
  pool: { type: 'string' },
  'secret-env': { type: 'string', default: 'SPLITSERVE_WORKER_SECRET' },
  advertise: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Runs the `sim` command; resolves 0 after a clean stop on SIGINT/SIGTERM, 2 on bad arguments.
 *
 * @example
 * // npx tsx bin/splitserve.ts sim --profile cerebras-decode --port 8201
 * process.exitCode = await simCommand(['--profile', 'cerebras-decode', '--port', '8201']);
 */
export function simCommand(args: string[]): Promise<number> {
  return runCommand('sim', () => sim(args));
}

async function sim(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, SIM_OPTIONS);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usageError = (message: string): never => {
    throw new CommandLineError(message);
  };
  if (!isProfileName(values.profile)) return usageError(`unknown profile "${values.profile}" (one of ${SIM_PROFILES.join(', ')})`);
  const port = portOption('--port', values.port);
  const speedup = Number(values.speedup);
  const seed = Number(values.seed);
  if (!Number.isFinite(speedup) || speedup <= 0) return usageError(`invalid --speedup "${values.speedup}"`);
  if (!Number.isInteger(seed)) return usageError(`invalid --seed "${values.seed}"`);
  const slots = values.slots === undefined ? undefined : Number(values.slots);
  if (slots !== undefined && !(Number.isInteger(slots) && slots >= 1)) return usageError(`invalid --slots "${values.slots}"`);
  const policy = values['scheduling-policy'];
  if (!(SCHEDULING_POLICIES as readonly string[]).includes(policy)) return usageError(`invalid --scheduling-policy "${policy}"`);
  const order = values['priority-order'];
  if (order !== 'low-first' && order !== 'high-first') return usageError(`invalid --priority-order "${order}"`);
  const prefixCacheTokens = Number(values['prefix-cache-tokens']);
  if (!(Number.isInteger(prefixCacheTokens) && prefixCacheTokens >= 0)) return usageError(`invalid --prefix-cache-tokens "${values['prefix-cache-tokens']}"`);
  const role = values.role;
  if (role !== undefined && !(SIM_ROLES as readonly string[]).includes(role)) return usageError(`invalid --role "${role}"`);
  const gateway = values.register;
  if (gateway !== undefined && !/^https?:\/\//.test(gateway)) return usageError('--register must be the gateway\'s http(s) base URL');
  if (gateway !== undefined && !values.pool) return usageError('--register needs --pool');
  if (gateway === undefined && (values.pool !== undefined || values.advertise !== undefined)) return usageError('--pool and --advertise go with --register');
  const secret = gateway === undefined ? undefined : process.env[values['secret-env']];
  if (gateway !== undefined && !secret) return usageError(`--register needs the workers' shared secret in the environment variable ${values['secret-env']}`);

  const server = await startSimulator({
    profile: values.profile,
    host: values.host,
    port,
    speedup,
    seed,
    ...(role !== undefined ? { role: role as SimRole } : {}),
    ...(values.model && values.model.length > 0 ? { model: values.model } : {}),
    ...(slots !== undefined ? { slots } : {}),
    schedulingPolicy: policy as SchedulingPolicy,
    priorityOrder: order,
    prefixCacheTokens,
  });
  process.stdout.write(`splitserve sim ${values.profile} listening on ${server.url}\n`);
  let registration: Registration | undefined;
  if (gateway !== undefined) {
    const url = values.advertise ?? server.url;
    try {
      registration = await registerWithGateway({ gateway, pool: values.pool!, url, secret: secret!, onError: (err) => process.stderr.write(`splitserve sim: heartbeat failed: ${err.message}\n`) });
    } catch (err) {
      await server.close();
      throw err;
    }
    process.stdout.write(`registered ${url} in pool ${values.pool} at ${gateway}\n`);
  }

  await untilStopped();
  await registration?.stop().catch((err: unknown) => process.stderr.write(`splitserve sim: deregister failed: ${(err as Error).message}\n`));
  await server.close();
  return 0;
}
