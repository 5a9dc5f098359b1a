import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessGroup } from '../../bench/processes.ts';
import type { Service } from '../../bench/processes.ts';
import { BENCH_API_KEYS, gatewayConfig } from '../../bench/run.ts';
import { readCloudAssembly } from '../../local/stack/cloud-assembly.ts';
import { REPO_ROOT, synthesize } from '../../local/stack/synth.ts';

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const ASSEMBLY = join(REPO_ROOT, '.splitserve', 'cdk.out.test-bench-lambda');
const procs = new ProcessGroup();
const dir = mkdtempSync(join(tmpdir(), 'bench-lambda-host-'));
let host: Service;

beforeAll(async () => {
  const fake = (name: string) => procs.spawnService({ name, args: ['--import', 'tsx', 'bench/fake-vllm.ts', '--port', '0'], ready: READY });
  const [prefill, decode, agg, store] = await Promise.all([
    fake('prefill'), fake('decode'), fake('agg'),
    procs.spawnService({ name: 'store', args: ['--import', 'tsx', 'bin/splitserve.ts', 'store', '--port', '0'], ready: READY }),
  ]);
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(gatewayConfig({ prefill: prefill.url, decode: decode.url, agg: agg.url })));
  await synthesize({ configPath: configFile, outDir: ASSEMBLY });
  host = await procs.spawnService({
    name: 'lambda-host',
    args: ['--import', 'tsx', 'bench/lambda-host.ts', '--assembly', ASSEMBLY, '--config', configFile, '--store', store.url, '--port', '0'],
    ready: READY,
    timeoutMs: 60_000,
  });
}, 120_000);

afterAll(async () => {
  await procs.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Lambda host of the bench', () => {
  it('serves the gateway function of the synthesized assembly: the bundle a deploy uploads, its streaming handler', async () => {
    const stack = await readCloudAssembly(ASSEMBLY);
    const bundles = [...stack.assets.values()].map((a) => join(a.path, 'index.mjs'));
    const [, logicalId, file, handler] = /\((\w+): (\S+), handler (\S+)\)/.exec(host.recentOutput()) ?? [];
    expect(bundles).toContain(file);
    expect(stack.template.Resources[logicalId ?? '']?.Type).toBe('AWS::Lambda::Function');
    expect(handler).toBe('index.handler');
  });

  it('streams a completion to the official client for every admission tenant, on both routes', async () => {
    for (const key of Object.values(BENCH_API_KEYS)) {
      const client = new OpenAI({ apiKey: key, baseURL: `${host.url}/v1`, maxRetries: 0 });
      for (const tier of ['default', 'priority'] as const) {
        const stream = await client.chat.completions.create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 8, service_tier: tier });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
        expect(text, `${key} ${tier}`).toBe(' Hello from the fake vLLM backend at speed');
      }
    }
  });

  it('relays the status and headers of the response stream\'s prelude: an unknown key is a 401 with the gateway\'s error body', async () => {
    const client = new OpenAI({ apiKey: 'sk-ss-bench-unknown-0123456789', baseURL: `${host.url}/v1`, maxRetries: 0 });
    const call = client.chat.completions.create({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], stream: true });
    await expect(call).rejects.toMatchObject({ status: 401, error: { type: expect.any(String) } });
  });
});
