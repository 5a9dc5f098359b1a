/**
 * docs/bedrock-clients.md, run as written against the node runtime over the bundled config (the
 * simulated pools of `npm start`), with only the port changed: the JavaScript example
 * (examples/bedrock-converse.mjs, shown exactly), the key taken from `AWS_BEARER_TOKEN_BEDROCK`
 * instead, and the boto3 lines when Python and boto3 are installed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalGateway } from '../../local/start-local.ts';
import { DEFAULT_CONFIG_PATH, startLocal } from '../../local/start-local.ts';
import { codeBlocks, REPO_ROOT } from '../helpers/doc-commands.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const run = promisify(execFile);
const DEV_KEY = 'sk-ss-dev-local-0123456789abcdef0123456789abcdef';
const hasBoto3 = (() => {
  try {
    execFileSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('docs/bedrock-clients.md, run as written', () => {
  let gateway: LocalGateway;
  let doc: string;
  const scratch = join(REPO_ROOT, '.splitserve', `bedrock-doc-run-${process.pid}`);
  const here = (text: string) => text.replaceAll('http://127.0.0.1:8787', gateway.url);

  beforeAll(async () => {
    gateway = await startLocal({ config: DEFAULT_CONFIG_PATH, port: 0, logger: silentLogger });
    doc = await readFile(join(REPO_ROOT, 'docs', 'bedrock-clients.md'), 'utf8');
    await mkdir(scratch, { recursive: true });
  }, 30_000);
  afterAll(async () => {
    await gateway?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('shows the example exactly as examples/bedrock-converse.mjs holds it, which streams the answer and says priority served it', async () => {
    const example = await readFile(join(REPO_ROOT, 'examples', 'bedrock-converse.mjs'), 'utf8');
    const shown = codeBlocks('docs/bedrock-clients.md', doc).filter((b) => b.info === 'js' && b.text.includes('ConverseStreamCommand'));
    expect(shown).toHaveLength(1);
    expect(`${shown[0]!.text}\n`).toBe(example);
    const file = join(scratch, 'bedrock-converse.mjs');
    await writeFile(file, here(example));
    const { stdout } = await run(process.execPath, [file], { cwd: REPO_ROOT, timeout: 30_000 });
    expect(stdout).toMatch(/\nserved at the priority tier: \{ inputTokens: \d+, outputTokens: 32, totalTokens: \d+ \}\n$/);
    expect(stdout.split('\nserved at')[0]!.trim().split(/\s+/).length).toBeGreaterThan(5);
  });

  it('takes the key from AWS_BEARER_TOKEN_BEDROCK, with only the endpoint set', async () => {
    const saved = process.env.AWS_BEARER_TOKEN_BEDROCK;
    process.env.AWS_BEARER_TOKEN_BEDROCK = DEV_KEY;
    try {
      const client = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: gateway.url, maxAttempts: 1 });
      const res = await client.send(new ConverseCommand({ modelId: 'llama-3.1-8b', messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 4 } }));
      expect(res.serviceTier).toEqual({ type: 'default' });
    } finally {
      if (saved === undefined) delete process.env.AWS_BEARER_TOKEN_BEDROCK;
      else process.env.AWS_BEARER_TOKEN_BEDROCK = saved;
    }
  });

  it.skipIf(!hasBoto3)('the boto3 lines (HTTP/1.1) print the served tier', async () => {
    const python = codeBlocks('docs/bedrock-clients.md', doc).filter((b) => b.info === 'python');
    expect(python).toHaveLength(1);
    const { stdout } = await run('python3', ['-c', here(python[0]!.text)], {
      timeout: 30_000,
      env: { ...process.env, AWS_BEARER_TOKEN_BEDROCK: DEV_KEY, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    expect(stdout.trim()).toBe("{'type': 'default'}");
  });
});
