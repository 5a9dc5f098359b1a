#!/usr/bin/env -S npx tsx
/**
 * The splitserve CLI: `start` (gateway on simulated or real backends), `sim` (one simulator),
 * `store` (the embedded DynamoDB-compatible store on its own),
 * `admin` (tenants, keys, tiers, usage), `bench` (side-by-side relay benchmark) and `plan` (pool
 * sizes for a traffic description, checked in the simulator).
 */
const USAGE = `usage: splitserve <command> [options]   (from a clone: npm start --, npm run sim|store|admin|bench -- …)

commands:
  start    run the gateway locally            (npm start -- --help)
  sim      run one backend simulator          (npm run sim -- --help)
  store    run the DynamoDB-compatible store  (npm run store -- --help)
  admin    manage tenants, keys and limits    (npm run admin -- --help)
  bench    benchmark gateway vs minimal relay (npm run bench -- --help);
           bench goodput: the goodput simulation (npm run bench -- goodput --help)
  plan     recommend pools for a traffic mix  (npm run plan -- --help)
`;

const commands: Record<string, () => Promise<{ run(args: string[]): Promise<number> }>> = {
  start: async () => ({ run: (await import('./commands/start.ts')).startCommand }),
  sim: async () => ({ run: (await import('./commands/sim.ts')).simCommand }),
  admin: async () => ({ run: (await import('./commands/admin.ts')).adminCommand }),
  store: async () => ({ run: (await import('./commands/store.ts')).storeCommand }),
  bench: async () => ({ run: (await import('./commands/bench.ts')).benchCommand }),
  plan: async () => ({ run: (await import('./commands/plan.ts')).planCommand }),
};

const [name, ...args] = process.argv.slice(2);
const load = name ? commands[name] : undefined;
if (!load) {
  const help = name === undefined || name === '--help' || name === '-h';
  if (help) process.stdout.write(USAGE);
  else process.stderr.write(`splitserve: unknown command "${name}" (start, sim, store, admin, bench, plan)\nsee: npx tsx bin/splitserve.ts --help\n`);
  process.exit(help ? 0 : 2);
}
const code = await (await load()).run(args);
if (code !== 0) process.exitCode = code;
