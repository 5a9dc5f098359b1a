/**
 * What lease admission costs in stranded capacity with many gateway instances (Lambda execution
 * environments): K instances, each its own DynamoAdmission with leases (lambda/store/admission.ts),
 * share one tenant's requests-per-minute limit on an embedded store. Requests arrive one at a time
 * at a uniformly random instance (Lambda gives an invocation to any idle environment), 1.5x the
 * limit in one minute. Exact admission admits exactly the limit; leases admit less when blocks held
 * by some instances sit unused while others are refused. Prints the share of the limit admitted.
 *
 * usage: npx tsx bench/lease-stranding.ts [rpm=1000] [leaseFraction=0.05]
 */
import { parseArgs } from 'node:util';
import type { Tenant } from '../lambda/core/ports.ts';
import { DynamoAdmission } from '../lambda/store/admission.ts';
import { createTables, tableDefinitions } from '../lambda/store/tables.ts';
import { startEmbeddedDynamo } from '../local/embedded-dynamo.ts';
import { mulberry32 } from '../sim/prng.ts';

const { positionals } = parseArgs({ allowPositionals: true });
const rpm = Number(positionals[0] ?? 1000);
const fraction = Number(positionals[1] ?? 0.05);
const INSTANCES = [1, 4, 16, 64] as const;
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const store = await startEmbeddedDynamo();
try {
  const names = { config: 'cfg-stranding', usage: 'usage-stranding' };
  await createTables(store.client, tableDefinitions(names));
  const start = Date.UTC(2026, 0, 1, 12, 0, 0);
  process.stdout.write(`lease stranding: rpm ${rpm}, lease block ${Math.max(1, Math.floor(rpm * fraction))} requests (leaseFraction ${fraction}), offered 1.5x the limit in one minute, uniformly random instance per request\n`);
  process.stdout.write('instances  admitted (leases)  share of limit  admitted (exact)\n');
  for (const k of INSTANCES) {
    const row: number[] = [];
    for (const lease of [true, false]) {
      const tenant: Tenant = { id: `t-${k}-${lease}`, tiers: ['default'], limits: { default: { rpm } }, disabled: false };
      let t = start;
      const now = () => t;
      const block = { requests: Math.max(1, Math.floor(rpm * fraction)), tokens: 1 };
      const instances = Array.from({ length: k }, () => new DynamoAdmission(store.client, names.usage, { now, leaseSize: lease ? () => block : undefined, adjustments: { logger: quiet } }));
      const random = mulberry32(42);
      const offered = Math.ceil(rpm * 1.5);
      let admitted = 0;
      for (let i = 0; i < offered; i++) {
        t = start + Math.floor((i * 59_000) / offered);
        const instance = instances[Math.floor(random() * k)]!;
        try {
          await instance.admit({ requestId: `r${i}`, tenant, tier: 'default', reserveTokens: 1 });
          admitted += 1;
        } catch {
          // refused: counted by what was admitted
        }
      }
      row.push(admitted);
    }
    const [leased = 0, exact = 0] = row;
    process.stdout.write(`${String(k).padStart(9)}  ${String(leased).padStart(17)}  ${`${((100 * leased) / rpm).toFixed(1)} %`.padStart(14)}  ${String(exact).padStart(16)}\n`);
  }
} finally {
  await store.close();
}
