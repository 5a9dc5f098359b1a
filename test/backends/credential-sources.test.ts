/**
 * The credential sources with the real AWS SDK clients, pointed at a loopback server that speaks
 * the services' JSON protocol (`X-Amz-Target: secretsmanager.GetSecretValue`,
 * `AmazonSSM.GetParameter`): the requests they send, the values they take, and how failures map
 * to 502/503 with reasons that never quote the value.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialUnavailableError } from '../../lambda/backends/credential-errors.ts';
import type { CredentialClients } from '../../lambda/backends/credential-sources.ts';
import { AwsCredentialClients, arnRegion, envSource, secretsManagerSource, ssmParameterSource } from '../../lambda/backends/credential-sources.ts';

const SECRET = 'sk-upstream-7d1e0c9b2a';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/vllm-key-AbCdEf';

interface AwsCall {
  readonly target: string;
  readonly body: Record<string, unknown>;
}

/** Answers one AWS JSON call: status and body. */
type AwsAnswer = (call: AwsCall) => { status: number; body: unknown };

/** A loopback server speaking the AWS JSON 1.1 protocol, answering from `answer`. */
async function awsJsonServer() {
  const calls: AwsCall[] = [];
  let answer: AwsAnswer = () => ({ status: 500, body: {} });
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const call = { target: String(req.headers['x-amz-target']), body: JSON.parse(text) as Record<string, unknown> };
    calls.push(call);
    const out = answer(call);
    res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(out.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    answer: (a: AwsAnswer) => (answer = a),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('credential sources through the AWS SDK', () => {
  let aws: Awaited<ReturnType<typeof awsJsonServer>>;
  let clients: CredentialClients;
  const regions: Array<string | undefined> = [];

  beforeAll(async () => {
    aws = await awsJsonServer();
    const settings = { endpoint: aws.endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
    clients = {
      secretsManager: async (region) => {
        regions.push(region);
        return new SecretsManagerClient({ ...settings, region: region ?? 'us-east-1' });
      },
      ssm: async (region) => {
        regions.push(region);
        return new SSMClient({ ...settings, region: region ?? 'us-east-1' });
      },
    };
  });
  afterAll(() => aws?.close());

  it('reads a secret by its ARN, in the ARN\'s region', async () => {
    aws.answer(() => ({ status: 200, body: { ARN: SECRET_ARN, Name: 'prod/vllm-key', SecretString: SECRET } }));
    regions.length = 0;
    const value = await secretsManagerSource('gpu', { secretArn: SECRET_ARN }, clients).read();
    expect(value).toBe(SECRET);
    expect(aws.calls.at(-1)).toEqual({ target: 'secretsmanager.GetSecretValue', body: { SecretId: SECRET_ARN } });
    expect(regions).toEqual(['eu-west-1']);
  });

  it('takes a field of a JSON secret with jsonKey; a secret that is not JSON, or lacks the field, fails without quoting it', async () => {
    const source = secretsManagerSource('gpu', { secretArn: SECRET_ARN, jsonKey: 'apiKey' }, clients);
    aws.answer(() => ({ status: 200, body: { ARN: SECRET_ARN, SecretString: JSON.stringify({ apiKey: SECRET, user: 'x' }) } }));
    expect(await source.read()).toBe(SECRET);

    aws.answer(() => ({ status: 200, body: { ARN: SECRET_ARN, SecretString: `${SECRET}-not-json` } }));
    const notJson = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect(notJson).toBeInstanceOf(CredentialUnavailableError);
    expect([notJson.statusCode, notJson.retryable, notJson.reason]).toEqual([502, false, 'the secret is not JSON, but "jsonKey" (apiKey) asks for a field of it']);

    aws.answer(() => ({ status: 200, body: { ARN: SECRET_ARN, SecretString: JSON.stringify({ token: SECRET }) } }));
    const noField = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect(noField.reason).toBe('the secret\'s JSON has no string field "apiKey"');
    expect(JSON.stringify([notJson.message, notJson.reason, notJson.toJSON(), noField.message, noField.reason])).not.toContain(SECRET);
  });

  it('refuses a binary secret', async () => {
    aws.answer(() => ({ status: 200, body: { ARN: SECRET_ARN, SecretBinary: Buffer.from(SECRET).toString('base64') } }));
    const err = (await secretsManagerSource('gpu', { secretArn: SECRET_ARN }, clients).read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([err.statusCode, err.reason]).toEqual([502, 'the secret has no SecretString (a binary secret cannot be sent as a header)']);
  });

  it('maps a refusal to a 502 and throttling or a 5xx to a 503 the plan may retry', async () => {
    const source = secretsManagerSource('gpu', { secretArn: SECRET_ARN }, clients);
    aws.answer(() => ({ status: 400, body: { __type: 'AccessDeniedException', message: 'User is not authorized to perform: secretsmanager:GetSecretValue' } }));
    const denied = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([denied.statusCode, denied.retryable, denied.source]).toEqual([502, false, 'secretArn']);
    expect(denied.reason).toMatch(/^AccessDeniedException: User is not authorized/);
    expect(denied.toJSON().error).toEqual({
      message: 'The gpu backend\'s credential could not be read; the gateway\'s operator must fix the pool\'s "auth" setting.',
      type: 'upstream_error',
      param: null,
      code: 'upstream_error',
    });

    aws.answer(() => ({ status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } }));
    const throttled = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([throttled.statusCode, throttled.retryable]).toEqual([503, true]);

    aws.answer(() => ({ status: 500, body: { __type: 'InternalServiceError', message: 'oops' } }));
    const failing = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([failing.statusCode, failing.retryable]).toEqual([503, true]);
  });

  it('reads an SSM parameter with decryption, by name (the default region) or by ARN (its region)', async () => {
    aws.answer((call) => ({ status: 200, body: { Parameter: { Name: call.body.Name, Type: 'SecureString', Value: SECRET, Version: 3 } } }));
    regions.length = 0;
    expect(await ssmParameterSource('gpu', { parameter: '/prod/vllm-key' }, clients).read()).toBe(SECRET);
    expect(aws.calls.at(-1)).toEqual({ target: 'AmazonSSM.GetParameter', body: { Name: '/prod/vllm-key', WithDecryption: true } });
    const arn = 'arn:aws:ssm:ap-south-1:123456789012:parameter/prod/vllm-key';
    expect(await ssmParameterSource('gpu', { parameter: arn }, clients).read()).toBe(SECRET);
    expect(aws.calls.at(-1)?.body).toEqual({ Name: arn, WithDecryption: true });
    expect(regions).toEqual([undefined, 'ap-south-1']);

    aws.answer(() => ({ status: 400, body: { __type: 'ParameterNotFound', message: 'not found' } }));
    const missing = (await ssmParameterSource('gpu', { parameter: '/prod/nope' }, clients).read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([missing.statusCode, missing.retryable, missing.source, missing.reason]).toEqual([502, false, 'parameter', 'ParameterNotFound: not found']);
  });

  it('reads an environment variable at every read, and names a missing one', async () => {
    const env: NodeJS.ProcessEnv = { GPU_KEY: SECRET };
    const source = envSource('gpu', { env: 'GPU_KEY' }, env);
    expect(await source.read()).toBe(SECRET);
    env.GPU_KEY = 'rotated';
    expect(await source.read()).toBe('rotated');
    delete env.GPU_KEY;
    const err = (await source.read().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect([err.statusCode, err.reason]).toEqual([502, 'the environment variable GPU_KEY is not set']);
  });
});

describe('AwsCredentialClients', () => {
  it('creates one client per service and region, in that region', async () => {
    const clients = new AwsCredentialClients();
    const a = await clients.secretsManager('eu-west-1');
    expect(await clients.secretsManager('eu-west-1')).toBe(a);
    expect(await (a as SecretsManagerClient).config.region()).toBe('eu-west-1');
    const s = await clients.ssm('ap-south-1');
    expect(s).toBeInstanceOf(SSMClient);
    expect(await (s as SSMClient).config.region()).toBe('ap-south-1');
    (a as SecretsManagerClient).destroy();
    (s as SSMClient).destroy();
  });

  it('reads the region out of an ARN', () => {
    expect(arnRegion(SECRET_ARN)).toBe('eu-west-1');
    expect(arnRegion('arn:aws:ssm::123456789012:parameter/x')).toBeUndefined();
  });
});
