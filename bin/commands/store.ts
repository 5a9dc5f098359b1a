/**
 * `splitserve store [--port N]`: the embedded DynamoDB-compatible store (dynalite, in memory) in a
 * process of its own, until SIGINT/SIGTERM. `splitserve start --store URL` and
 * `splitserve admin --endpoint URL` use it; it outlives gateway restarts, and its CPU is not the
 * gateway's (as DynamoDB's is not, deployed). Prints one ready line on stdout,
 * `splitserve store listening on http://127.0.0.1:<port>`.
 */
import { DEFAULT_STORE_PORT, startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { parseCommandLine, portOption, runCommand, untilStopped } from './command-line.ts';

const USAGE = `usage: npm run store -- [--port N]

Runs the embedded DynamoDB-compatible store (in memory, 127.0.0.1 only, no auth) on its own, for
npm start -- --store URL and npm run admin -- … --endpoint URL. Its data lives until it stops.

  --port N     port to listen on; 0 picks a free one (default: ${DEFAULT_STORE_PORT}, as npm start's embedded store)
  -h, --help   show this help
`;

/** The options of `splitserve store`. */
export const STORE_OPTIONS = { port: { type: 'string', default: String(DEFAULT_STORE_PORT) }, help: { type: 'boolean', short: 'h', default: false } } as const;

/** Runs the `store` command; resolves 0 after a clean stop on SIGINT/SIGTERM, 2 on bad arguments, 1 when the port is taken. */
export function storeCommand(args: string[]): Promise<number> {
  return runCommand('store', async () => {
    const { values } = parseCommandLine(args, STORE_OPTIONS);
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    const store = await startEmbeddedDynamo({ port: portOption('--port', values.port) });
    process.stdout.write(`splitserve store listening on ${store.endpoint}\n`);
    await untilStopped();
    await store.close();
    return 0;
  });
}
