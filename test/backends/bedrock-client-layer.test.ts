/**
 * The Bedrock client layer that lib/bedrock-access.ts builds at synth: the module it ships is the
 * Bedrock Runtime client that works, loaded the way a function loads it (a bare ES module import
 * of `@aws-sdk/client-bedrock-runtime` resolved from the layer's `nodejs/node_modules`), and it
 * sends `serviceTier` and `performanceConfig` and decodes ConverseStream.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEDROCK_CLIENT_MODULE, buildBedrockClientLayer } from '../../lib/bedrock-access.ts';
import type { BedrockServer } from './bedrock-server.ts';
import { startBedrockServer, useDummyCredentials } from './bedrock-server.ts';

type Sdk = typeof import('@aws-sdk/client-bedrock-runtime');

describe('bedrock client layer', () => {
  let root: string;
  let sdk: Sdk;
  let server: BedrockServer;
  let restore: () => void;

  beforeAll(async () => {
    restore = useDummyCredentials();
    root = buildBedrockClientLayer();
    // A module beside (a copy of) the layer's node_modules importing the package by name, as a
    // function does; the copy keeps the layer's own content untouched.
    const copy = mkdtempSync(join(tmpdir(), 'splitserve-layer-probe-'));
    cpSync(root, copy, { recursive: true });
    const probe = join(copy, 'nodejs', 'probe.mjs');
    writeFileSync(probe, `export * from '${BEDROCK_CLIENT_MODULE}';\n`);
    sdk = (await import(pathToFileURL(probe).href)) as Sdk;
    server = await startBedrockServer();
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    restore?.();
  });

  it('holds one minified module and a package.json naming the installed version', () => {
    const pkgDir = join(root, 'nodejs', 'node_modules', '@aws-sdk', 'client-bedrock-runtime');
    const installed = JSON.parse(readFileSync(join('node_modules', '@aws-sdk', 'client-bedrock-runtime', 'package.json'), 'utf8')) as { version: string };
    expect(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))).toMatchObject({ name: BEDROCK_CLIENT_MODULE, version: installed.version, type: 'module' });
    expect(existsSync(join(pkgDir, 'index.mjs'))).toBe(true);
    const size = statSync(join(pkgDir, 'index.mjs')).size;
    console.info(`bedrock client layer module: ${size} bytes`);
    expect(size).toBeGreaterThan(100_000);
    expect(size).toBeLessThan(2_000_000);
    expect(buildBedrockClientLayer()).toBe(root);
  });

  it('its client sends serviceTier and performanceConfig and decodes a ConverseStream', async () => {
    const client = new sdk.BedrockRuntimeClient({ region: 'us-east-1', endpoint: server.url, maxAttempts: 1 });
    try {
      const input = {
        modelId: 'meta.llama3-1-8b-instruct-v1:0',
        messages: [{ role: 'user' as const, content: [{ text: 'hi' }] }],
        serviceTier: { type: 'priority' as const },
        performanceConfig: { latency: 'optimized' as const },
      };
      const answer = await client.send(new sdk.ConverseCommand(input));
      expect(answer.output?.message?.content?.[0]?.text).toBe('Hello from Bedrock.');
      const streamed = await client.send(new sdk.ConverseStreamCommand(input));
      const texts: string[] = [];
      for await (const event of streamed.stream!) if (event.contentBlockDelta?.delta?.text) texts.push(event.contentBlockDelta.delta.text);
      expect(texts.join('')).toBe('Hello from Bedrock.');
      expect(server.requests.map((r) => [r.operation, r.body.serviceTier, r.body.performanceConfig])).toEqual([
        ['converse', { type: 'priority' }, { latency: 'optimized' }],
        ['converse-stream', { type: 'priority' }, { latency: 'optimized' }],
      ]);
    } finally {
      client.destroy();
    }
  });
});
