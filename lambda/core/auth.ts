/**
 * Authentication: `Authorization: Bearer <key>` → SHA-256 of the key → principal. The key itself
 * is never stored, logged or echoed; only its hash leaves this module.
 */
import * as crypto from 'node:crypto';
import { AuthenticationError, PermissionDeniedError } from './errors.ts';
import type { KeyResolver, Principal } from './ports.ts';

/** `crypto.hash` (Node ≥ 20.12): a one-shot digest, ~3x cheaper than a `Hash` object per key. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

/** SHA-256 of an API key, lower-case hex: how keys are stored and looked up. */
export function hashApiKey(key: string): string {
  return oneShot ? oneShot('sha256', key, 'hex') : crypto.createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Extracts the bearer token of an `Authorization` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * Resolves the caller of a request: synchronously when the key is cached, else a promise.
 *
 * @throws AuthenticationError (401) without a key or with an unknown one (thrown, or a rejection)
 * @throws PermissionDeniedError (403) when the key or its tenant is disabled (thrown, or a rejection)
 */
export function authenticate(keys: KeyResolver, authorization: string | undefined): Principal | Promise<Principal> {
  const key = bearerToken(authorization);
  if (!key) {
    throw new AuthenticationError(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  // A cached key is answered synchronously: no promise on the per-request path.
  const found = keys.resolve(hashApiKey(key));
  return found instanceof Promise ? found.then(admitted) : admitted(found);
}

function admitted(principal: Principal | undefined): Principal {
  if (!principal) throw new AuthenticationError();
  if (principal.keyDisabled) throw new PermissionDeniedError();
  if (principal.tenant.disabled) throw new PermissionDeniedError('This account has been disabled.');
  return principal;
}
