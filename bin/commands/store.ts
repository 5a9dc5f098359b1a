/**
 * `splitserve store [--port N]`: the embedded DynamoDB-compatible store (dynalite, in memory) in a
 * process of its own, until SIGINT/SIGTERM. `splitserve start --store URL` and
 * `splitserve admin --endpoint URL` use it; it outlives gateway restarts, and its CPU is not the
 * gateway's (as DynamoDB's is not, deployed). Prints one ready line on stdout,
 * `splitserve store listening on http://127.0.0.1:<port>`.
 */
import { startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { commandOptions, isPort, untilStopped } from './command-line.ts';

const USAGE = `usage: splitserve store [--port N]

Runs the embedded DynamoDB-compatible store (in memory, 127.0.0.1 only, no auth) on its own, for
splitserve start --store URL and splitserve admin --endpoint URL. Its data lives until it stops.

  --port N     port to listen on; 0 picks a free one (default: 4567)
  -h, --help   show this help
`;

/** Runs the `store` command; resolves 0 after a clean stop on SIGINT/SIGTERM, 2 on bad arguments. */
export async function storeCommand(args: string[]): Promise<number> {
  const values = commandOptions(args, { port: { type: 'string', default: '4567' }, help: { type: 'boolean', short: 'h', default: false } }, USAGE);
  if (typeof values === 'number') return values;
  const port = Number(values.port);
  if (!isPort(port)) {
    process.stderr.write(`invalid port "${values.port}"\n\n${USAGE}`);
    return 2;
  }
  const store = await startEmbeddedDynamo({ port });
  process.stdout.write(`splitserve store listening on ${store.endpoint}\n`);
  await untilStopped();
  await store.close();
  return 0;
}
