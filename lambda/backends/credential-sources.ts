/**
 * Where a pool's credential is read, one source per `auth` kind:
 *
 * - `secretArn`: Secrets Manager `GetSecretValue` on the secret's complete ARN (the client in the
 *   ARN's region); the `SecretString`, or with `jsonKey` that field of it as JSON;
 * - `parameter`: SSM `GetParameter` with `WithDecryption` (a SecureString comes back decrypted);
 * - `env`: an environment variable of this process (local runs; a deploy refuses it).
 *
 * The SDK modules are imported on the first read only, so a function whose pools name no
 * credential never loads them (the Lambda bundles keep them external: the runtime provides them).
 * Failures become a {@link CredentialUnavailableError} whose reason names the SDK error, never the
 * value: a JSON parse error, whose message quotes its input, is not passed on.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { PARAMETER_ARN_PATTERN } from '../core/config.ts';
import { CredentialUnavailableError } from './credential-errors.ts';
import type { CredentialSource } from './upstream-credential.ts';

/** What a source needs of an SDK client: its `send` (the boundary tests replace, e.g. with a client on a loopback endpoint). */
export type SecretsManagerSender = Pick<SecretsManagerClient, 'send'>;
/** See {@link SecretsManagerSender}. */
export type SsmSender = Pick<SSMClient, 'send'>;

/** The SDK clients the sources read with, by region (undefined: the SDK's default region, `AWS_REGION` in Lambda). */
export interface CredentialClients {
  secretsManager(region: string | undefined): Promise<SecretsManagerSender>;
  ssm(region: string | undefined): Promise<SsmSender>;
}

type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');
type SsmSdk = typeof import('@aws-sdk/client-ssm');

let secretsManagerModule: Promise<SecretsManagerSdk> | undefined;
let ssmModule: Promise<SsmSdk> | undefined;

/** The Secrets Manager SDK module, imported on first use. */
function secretsManagerSdk(): Promise<SecretsManagerSdk> {
  secretsManagerModule ??= import('@aws-sdk/client-secrets-manager');
  return secretsManagerModule;
}

/** The SSM SDK module, imported on first use. */
function ssmSdk(): Promise<SsmSdk> {
  ssmModule ??= import('@aws-sdk/client-ssm');
  return ssmModule;
}

/** Client settings of a credential read: two attempts, short timeouts (a read blocks the calls waiting for it). */
const CLIENT_SETTINGS = { maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 } } as const;

/**
 * The SDK clients with the default credential chain (the function's role in Lambda), created on
 * first use per region and kept for the life of the process.
 */
export class AwsCredentialClients implements CredentialClients {
  private readonly secretsManagerClients = new Map<string, Promise<SecretsManagerSender>>();
  private readonly ssmClients = new Map<string, Promise<SsmSender>>();

  secretsManager(region: string | undefined): Promise<SecretsManagerSender> {
    return once(this.secretsManagerClients, region ?? '', () =>
      secretsManagerSdk().then(({ SecretsManagerClient: Client }) => new Client({ ...CLIENT_SETTINGS, ...(region ? { region } : {}) })),
    );
  }

  ssm(region: string | undefined): Promise<SsmSender> {
    return once(this.ssmClients, region ?? '', () => ssmSdk().then(({ SSMClient: Client }) => new Client({ ...CLIENT_SETTINGS, ...(region ? { region } : {}) })));
  }
}

/** The client of `key`, created on first use (and again after a failed creation). */
function once<T>(clients: Map<string, Promise<T>>, key: string, create: () => Promise<T>): Promise<T> {
  let client = clients.get(key);
  if (!client) {
    client = create();
    client.catch(() => clients.delete(key));
    clients.set(key, client);
  }
  return client;
}

/** The region field of an ARN (`arn:partition:service:region:account:resource`). */
export function arnRegion(arn: string): string | undefined {
  return arn.split(':')[3] || undefined;
}

/** SDK errors that mean the service is unavailable for now rather than refusing for good. */
const TRANSIENT_ERRORS: ReadonlySet<string> = new Set(['ThrottlingException', 'InternalServiceError', 'InternalServerError', 'InternalServerErrorException', 'ServiceUnavailable', 'TooManyUpdates']);

/** A failed SDK call as a credential error: transient when throttled, a 5xx or no answer at all. */
function sdkFailure(pool: string, source: 'secretArn' | 'parameter', err: unknown): CredentialUnavailableError {
  if (err instanceof CredentialUnavailableError) return err;
  const e = err as { name?: string; message?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const transient = TRANSIENT_ERRORS.has(e.name ?? '') || e.$fault === 'server' || status === undefined || status >= 500 || status === 429;
  return new CredentialUnavailableError(pool, source, `${e.name ?? 'Error'}: ${e.message ?? 'no message'}`, transient);
}

/** Reads a pool's credential from Secrets Manager. */
export function secretsManagerSource(pool: string, auth: { readonly secretArn: string; readonly jsonKey?: string | undefined }, clients: CredentialClients): CredentialSource {
  return {
    name: 'secretArn',
    read: async () => {
      try {
        const [client, { GetSecretValueCommand }] = await Promise.all([clients.secretsManager(arnRegion(auth.secretArn)), secretsManagerSdk()]);
        const out = await client.send(new GetSecretValueCommand({ SecretId: auth.secretArn }));
        if (typeof out.SecretString !== 'string') {
          throw new CredentialUnavailableError(pool, 'secretArn', 'the secret has no SecretString (a binary secret cannot be sent as a header)', false);
        }
        return auth.jsonKey === undefined ? out.SecretString : jsonField(pool, out.SecretString, auth.jsonKey);
      } catch (err) {
        throw sdkFailure(pool, 'secretArn', err);
      }
    },
  };
}

/** The string field `key` of a JSON secret; errors name the key, never the secret. */
function jsonField(pool: string, text: string, key: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The parse error's message quotes the input: not passed on.
    throw new CredentialUnavailableError(pool, 'secretArn', `the secret is not JSON, but "jsonKey" (${key}) asks for a field of it`, false);
  }
  const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)[key] : undefined;
  if (typeof value !== 'string') throw new CredentialUnavailableError(pool, 'secretArn', `the secret's JSON has no string field "${key}"`, false);
  return value;
}

/** Reads a pool's credential from an SSM parameter, decrypted. */
export function ssmParameterSource(pool: string, auth: { readonly parameter: string }, clients: CredentialClients): CredentialSource {
  const region = PARAMETER_ARN_PATTERN.test(auth.parameter) ? arnRegion(auth.parameter) : undefined;
  return {
    name: 'parameter',
    read: async () => {
      try {
        const [client, { GetParameterCommand }] = await Promise.all([clients.ssm(region), ssmSdk()]);
        const out = await client.send(new GetParameterCommand({ Name: auth.parameter, WithDecryption: true }));
        const value = out.Parameter?.Value;
        if (typeof value !== 'string') throw new CredentialUnavailableError(pool, 'parameter', 'the parameter has no value', false);
        return value;
      } catch (err) {
        throw sdkFailure(pool, 'parameter', err);
      }
    },
  };
}

/** Reads a pool's credential from an environment variable (at every read: a changed value is picked up). */
export function envSource(pool: string, auth: { readonly env: string }, env: NodeJS.ProcessEnv = process.env): CredentialSource {
  return {
    name: 'env',
    read: async () => {
      const value = env[auth.env];
      if (value === undefined || value === '') throw new CredentialUnavailableError(pool, 'env', `the environment variable ${auth.env} is not set`, false);
      return value;
    },
  };
}
