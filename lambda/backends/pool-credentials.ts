/**
 * The credentials of the configured pools: for each pool with `auth`, its source
 * (credential-sources.ts) behind a cache with its bound (upstream-credential.ts). Built once per
 * process by the composition root; nothing is read until a pool is first called.
 */
import type { PoolAuth, PoolConfig } from '../core/config.ts';
import type { GatewayLogger } from '../core/logger.ts';
import type { UpstreamCredential } from '../core/backend-ports.ts';
import type { CredentialClients } from './credential-sources.ts';
import { AwsCredentialClients, envSource, secretsManagerSource, ssmParameterSource } from './credential-sources.ts';
import type { CredentialSource } from './upstream-credential.ts';
import { CachedCredential } from './upstream-credential.ts';

/** Options of {@link poolCredentials}. */
export interface PoolCredentialsOptions {
  readonly logger: GatewayLogger;
  /** The SDK clients Secrets Manager and SSM are read with. @default new AwsCredentialClients() */
  readonly clients?: CredentialClients;
  /** What `env` sources read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The source a pool's `auth` names. */
export function credentialSource(pool: string, auth: PoolAuth, clients: CredentialClients, env?: NodeJS.ProcessEnv): CredentialSource {
  if (auth.secretArn !== undefined) return secretsManagerSource(pool, { secretArn: auth.secretArn, jsonKey: auth.jsonKey }, clients);
  if (auth.parameter !== undefined) return ssmParameterSource(pool, { parameter: auth.parameter }, clients);
  if (auth.env !== undefined) return envSource(pool, { env: auth.env }, env);
  // The config schema allows exactly one of the three.
  throw new TypeError(`pools.${pool}.auth names no source`);
}

/**
 * Pool name → its credential, for the pools whose config has `auth`.
 *
 * @example
 * const credentials = poolCredentials(config.pools, { logger });
 * new PoolDirectory(config.pools, { logger, credentials });
 */
export function poolCredentials(pools: Readonly<Record<string, PoolConfig>>, options: PoolCredentialsOptions): Record<string, UpstreamCredential> {
  let clients = options.clients;
  const out: Record<string, UpstreamCredential> = {};
  for (const [pool, config] of Object.entries(pools)) {
    if (!config.auth) continue;
    clients ??= new AwsCredentialClients();
    out[pool] = new CachedCredential(credentialSource(pool, config.auth, clients, options.env), {
      pool,
      header: config.auth.header,
      cacheMs: config.auth.cacheMs,
      logger: options.logger,
      ...(options.now ? { now: options.now } : {}),
    });
  }
  return out;
}
