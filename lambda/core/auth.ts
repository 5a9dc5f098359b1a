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
 * Resolves the caller of a request.
 *
 * @throws AuthenticationError (401) without a key or with an unknown one
 * @throws PermissionDeniedError (403) when the key or its tenant is disabled
 */
export async function authenticate(keys: KeyResolver, authorization: string | undefined): Promise<Principal> {
  const key = bearerToken(authorization);
  if (!key) {
    throw new AuthenticationError(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  const principal = await keys.resolve(hashApiKey(key));
  if (!principal) throw new AuthenticationError();
  if (principal.keyDisabled) throw new PermissionDeniedError();
  if (principal.tenant.disabled) throw new PermissionDeniedError('This account has been disabled.');
  return principal;
}
