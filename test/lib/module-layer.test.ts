/**
 * Layers for packages the function bundles keep external: the Powertools tracer ships in a layer
 * that only a deploy with `-c traceCalls=true` gives its functions, so the default bundles do not
 * carry it (nor the X-Ray SDK it loads); the module in the layer is a tracer that works, loaded the
 * way a function loads it (a bare import resolved from the layer's `nodejs/node_modules`).
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { buildModuleLayer } from '../../lib/module-layer.ts';
import { TRACER_MODULE, TRACE_CALLS_CONTEXT } from '../../lib/splitserve-function.ts';
import { SplitserveStack } from '../../lib/splitserve-stack.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

const config = {
  pools: { gpu: { protocol: 'openai', endpoints: ['https://gpu.pools.example.com'] } },
  models: { m: { pools: ['gpu'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
};

describe('the tracer layer', () => {
  it('holds the installed tracer as one module that loads and instruments a client', async () => {
    const root = buildModuleLayer(TRACER_MODULE);
    expect(buildModuleLayer(TRACER_MODULE)).toBe(root);
    const pkgDir = join(root, 'nodejs', 'node_modules', '@aws-lambda-powertools', 'tracer');
    const installed = JSON.parse(readFileSync(join('node_modules', '@aws-lambda-powertools', 'tracer', 'package.json'), 'utf8')) as { version: string };
    expect(JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'))).toMatchObject({ name: TRACER_MODULE, version: installed.version, type: 'module' });
    expect(existsSync(join(pkgDir, 'index.mjs'))).toBe(true);
    // A module beside (a copy of) the layer's node_modules importing the package by name, as a function does.
    const copy = mkdtempSync(join(tmpdir(), 'splitserve-layer-probe-'));
    cpSync(root, copy, { recursive: true });
    const probe = join(copy, 'nodejs', 'probe.mjs');
    writeFileSync(probe, `export * from '${TRACER_MODULE}';\n`);
    const { Tracer } = (await import(pathToFileURL(probe).href)) as typeof import('@aws-lambda-powertools/tracer');
    // As in Lambda (the tracer instruments nothing elsewhere).
    Object.assign(process.env, { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_LAMBDA_FUNCTION_NAME: 'probe', AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR' });
    const tracer = new Tracer({ serviceName: 'layer-probe', enabled: true });
    expect(tracer.isTracingEnabled()).toBe(true);
    const client = new DynamoDBClient({ region: 'us-east-1' });
    const before = client.middlewareStack.identify().length;
    expect(tracer.captureAWSv3Client(client)).toBe(client);
    expect(client.middlewareStack.identify().length).toBeGreaterThan(before);
    client.destroy();
    for (const name of ['AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_XRAY_CONTEXT_MISSING']) delete process.env[name];
  });

  it('goes to every function of a deploy with traceCalls=true, and to none otherwise', () => {
    const layersOf = (ctx: Record<string, unknown>) => {
      const stack = new SplitserveStack(new App({ context: ctx }), 'LayerTest', { config: parseConfig(config) });
      const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
      const layerIds = Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::LayerVersion').map(([id]) => id);
      const fns = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
      return { layerIds, layers: fns.map((f) => (f.Properties.Layers ?? []).map((l: { Ref: string }) => l.Ref)), env: fns.map((f) => f.Properties.Environment.Variables.POWERTOOLS_TRACE_ENABLED) };
    };
    const traced = layersOf({ ...context, [TRACE_CALLS_CONTEXT]: 'true' });
    expect(traced.layerIds).toEqual([expect.stringMatching(/^TracerLayer/)]);
    expect(traced.layers).toEqual(Array(6).fill(traced.layerIds));
    expect(traced.env).toEqual(Array(6).fill('true'));
    const plain = layersOf(context);
    expect(plain.layerIds).toEqual([]);
    expect(plain.env).toEqual(Array(6).fill('false'));
  }, 300_000);
});
