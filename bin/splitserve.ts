#!/usr/bin/env -S npx tsx
/**
 * The splitserve CLI: `start` (gateway on simulated or real backends), `sim` (one simulator),
 * `store` (the embedded DynamoDB-compatible store on its own),
 * `admin` (tenants, keys, tiers, usage) and `bench` (side-by-side relay benchmark).
 */
const USAGE = `usage: splitserve <command> [options]

commands:
  start    run the gateway locally            (splitserve start --help)
  sim      run one backend simulator          (splitserve sim --help)
  store    run the DynamoDB-compatible store  (splitserve store --help)
  admin    manage tenants, keys and limits    (splitserve admin --help)
  bench    benchmark gateway vs minimal relay (splitserve bench --help)
`;

const commands: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  start: async () => ({ run: (await import('./commands/start.ts')).startCommand }),
  sim: async () => ({ run: (await import('./commands/sim.ts')).simCommand }),
  admin: async () => ({ run: (await import('./commands/admin.ts')).adminCommand }),
  store: async () => ({ run: (await import('./commands/store.ts')).storeCommand }),
  bench: async () => ({ run: (await import('./commands/bench.ts')).benchCommand }),
};

const [name, ...args] = process.argv.slice(2);
const load = name ? commands[name] : undefined;
if (!load) {
  process.stderr.write(name && name !== '--help' && name !== '-h' ? `unknown command "${name}"\n\n${USAGE}` : USAGE);
  process.exit(name && name !== '--help' && name !== '-h' ? 2 : 0);
}
const code = await (await load()).run(args);
if (code !== 0) process.exitCode = code;
