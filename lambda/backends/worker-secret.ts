/**
 * The workers' shared secret (`workers.secret`), read from Secrets Manager, an SSM parameter or
 * (local runs) an environment variable through the same sources and cache as the pools'
 * credentials (credential-sources.ts, upstream-credential.ts): read on the first registration,
 * used for `cacheMs` at most (a rotated secret is accepted after that), the value held in private
 * fields and never logged.
 */
import type { WorkerSecret } from '../core/config.ts';
import { ServiceUnavailableError } from '../core/errors.ts';
import type { GatewayLogger } from '../core/logger.ts';
import type { SharedSecret } from '../core/worker-registration.ts';
import type { CredentialClients } from './credential-sources.ts';
import { AwsCredentialClients, envSource, secretsManagerSource, ssmParameterSource } from './credential-sources.ts';
import type { CredentialSource } from './upstream-credential.ts';
import { CachedCredential } from './upstream-credential.ts';

/** The name the secret's reads are logged under (never its value). */
export const WORKER_SECRET_NAME = 'workers.secret';

/** Options of {@link workerSecret}. */
export interface WorkerSecretOptions {
  readonly logger: GatewayLogger;
  /** @default new AwsCredentialClients() */
  readonly clients?: CredentialClients;
  /** What an `env` source reads. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

function sourceOf(secret: WorkerSecret, clients: () => CredentialClients, env: NodeJS.ProcessEnv | undefined): CredentialSource {
  if (secret.secretArn !== undefined) return secretsManagerSource(WORKER_SECRET_NAME, { secretArn: secret.secretArn, jsonKey: secret.jsonKey }, clients());
  if (secret.parameter !== undefined) return ssmParameterSource(WORKER_SECRET_NAME, { parameter: secret.parameter }, clients());
  if (secret.env !== undefined) return envSource(WORKER_SECRET_NAME, { env: secret.env }, env);
  // The config schema allows exactly one of the three.
  throw new TypeError('workers.secret names no source');
}

/**
 * The shared secret of `workers.secret`, cached.
 *
 * @example
 * const secret = workerSecret(config.workers.secret, { logger });
 * secretMatches(token, await secret.value());
 */
export function workerSecret(secret: WorkerSecret, options: WorkerSecretOptions): SharedSecret {
  const cached = new CachedCredential(sourceOf(secret, () => options.clients ?? new AwsCredentialClients(), options.env), {
    pool: WORKER_SECRET_NAME,
    header: 'x-worker-secret',
    cacheMs: secret.cacheMs,
    logger: options.logger,
  });
  return {
    value: async () => {
      try {
        return (await cached.header()).value;
      } catch {
        // The read's failure is logged by the cache (source and reason, never a value).
        throw new ServiceUnavailableError('The worker secret cannot be read now. Please retry shortly.');
      }
    },
  };
}
