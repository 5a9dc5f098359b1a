/**
 * The speculative start of a stream (lambda/core/generate.ts): when the tenant's last admission
 * here left ample room, the plan opens while the admission write is in flight. A refusal after
 * all (another instance spent the window meanwhile) answers the client a plain 429, stops the
 * backend call, meters nothing and leaves no marker; a tenant without that room is never started early.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { Tenant } from '../../lambda/core/ports.ts';
import { DynamoAdmission } from '../../lambda/store/admission.ts';
import { OPEN_REQUEST_DEADLINE_MS, sweepOpenRequests } from '../../lambda/store/open-requests.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimStats } from '../../sim/stats.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-spec-0123456789abcdef0123456789ab';
const ROOMY_KEY = 'sk-ss-test-roomy-0123456789abcdef012345678';
const MODEL = 'llama-3.1-8b';
const RPM = 20;
const tenant: Tenant = { id: 'spec', tiers: ['default'], limits: { default: { rpm: RPM } }, disabled: false };

let local: LocalGateway;
let client: OpenAI;

beforeAll(async () => {
  local = await startLocal({
    port: 0,
    logger: silentLogger,
    config: parseConfig({
      pools: { gpu: { protocol: 'openai', simulate: { profile: 'gpu-aggregated', replicas: 1, speedup: 1 } } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [
        { id: tenant.id, apiKeys: [KEY], tiers: ['default'], limits: { default: { rpm: RPM } } },
        { id: 'roomy', apiKeys: [ROOMY_KEY], tiers: ['default'], limits: { default: { rpm: 100_000 } } },
      ],
    }),
  });
  client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await local?.close();
});

const stats = async (): Promise<SimStats> => (await fetch(`${local.simulators.gpu![0]}/sim/stats`)).json() as Promise<SimStats>;
const stream = async (via = client, maxTokens = 4): Promise<string> => {
  let text = '';
  for await (const chunk of await via.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: maxTokens, stream: true })) {
    text += chunk.choices[0]?.delta.content ?? '';
  }
  return text;
};
const likely = (who = tenant) => local.runtime.deps.admission.admitsLikely?.({ requestId: 'probe', tenant: who, tier: 'default', reserveTokens: 1 });

describe('speculative start of a stream', () => {
  it('starts early only with ample room; a refusal then is a clean 429, the backend call stopped, nothing metered', async () => {
    expect(likely()).toBe(false); // no admission seen yet: the first stream waits for its write
    expect((await stream()).length).toBeGreaterThan(0);
    expect(likely()).toBe(true); // 19 of 20 left

    // Another instance spends the rest of the minute.
    const other = new DynamoAdmission(localDynamoClient(local.storeEndpoint), LOCAL_TABLE_NAMES.usage);
    for (let i = 0; i < RPM - 1; i++) await other.admit({ requestId: `other-${i}`, tenant, tier: 'default', reserveTokens: 1 });

    const before = await stats();
    // A long answer (seconds at the profile's pace), so that the engine is still streaming when the
    // refusal comes back however slow the store is: a 4-token answer could end first on a busy machine.
    const refused = await stream(client, 2000).then(() => undefined, (err: unknown) => err);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    expect((refused as InstanceType<typeof OpenAI.RateLimitError>).message).toContain('RPM');
    // It was started early, and stopped: the engine saw the call and its client going away.
    const deadline = Date.now() + 3000;
    let after = await stats();
    while ((after.calls === before.calls || after.aborted === before.aborted) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      after = await stats();
    }
    expect(after.calls).toBe(before.calls + 1);
    expect(after.aborted).toBe(before.aborted + 1);

    // No room known now: the next request is not started early, and is refused without a backend call.
    expect(likely()).toBe(false);
    await expect(stream()).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    expect((await stats()).calls).toBe(after.calls);

    await local.runtime.flush();
    const records = await usageRecords(localDynamoClient(local.storeEndpoint), LOCAL_TABLE_NAMES.usage, tenant.id, Date.now());
    expect(records.map((r) => r.outcome)).toEqual(['ok']);
    // The refused request's marker (opened with its early start) went too: a sweep long after
    // finds nothing to bill.
    const sweep = await sweepOpenRequests(localDynamoClient(local.storeEndpoint), LOCAL_TABLE_NAMES.usage, { now: () => Date.now() + 2 * OPEN_REQUEST_DEADLINE_MS, logger: silentLogger });
    expect(sweep).toMatchObject({ markers: 0, interrupted: 0 });
  });

  it('a backend that fails at once (a 400: not retried) while the admission write is in flight: answered as any failure, no unhandled rejection', async () => {
    const gpu = local.simulators.gpu![0]!;
    const setFaults = (faults: object) => fetch(`${gpu}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(faults) });
    const roomy = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: ROOMY_KEY, maxRetries: 0 });
    const roomyTenant: Tenant = { id: 'roomy', tiers: ['default'], limits: { default: { rpm: 100_000 } }, disabled: false };
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      expect((await stream(roomy)).length).toBeGreaterThan(0);
      expect(likely(roomyTenant)).toBe(true);
      expect((await setFaults({ errorRate: 1, errorStatus: 400 })).ok).toBe(true);
      const failed = await roomy.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true }).then(() => undefined, (err: unknown) => err);
      expect(failed).toBeInstanceOf(OpenAI.APIError);
      expect((failed as InstanceType<typeof OpenAI.APIError>).status).toBe(400);
      await new Promise((r) => setTimeout(r, 50));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
      await setFaults({});
    }
    // Served again once the backend is.
    expect((await stream(roomy)).length).toBeGreaterThan(0);
  });
});
