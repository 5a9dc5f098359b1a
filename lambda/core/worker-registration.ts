/**
 * Workers that register themselves into a pool (docs/worker-registration.md): what a registration
 * may name, and the HTTP routes `POST /v1/workers/register` (also the heartbeat) and
 * `POST /v1/workers/deregister`, authorised by the workers' shared secret (`workers.secret`).
 *
 * Platform-agnostic: the registrations are stored through {@link WorkerStore} (the Config table
 * in lambda/store/worker-registry.ts) and the secret is read through {@link SharedSecret}. The
 * secret is compared as SHA-256 digests with `timingSafeEqual`, so the comparison takes the same
 * time whatever the caller sent; it is never logged nor echoed.
 */
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import * as z from 'zod/mini';
import './zod.ts';
import { bearerToken } from './auth.ts';
import type { PoolConfig, RegistrationConfig, SplitserveConfig } from './config.ts';
import { AuthenticationError, GatewayError, InvalidRequestError, MethodNotAllowedError, NotFoundError } from './errors.ts';
import type { GatewayRequest, GatewayResponse } from './http-types.ts';
import { jsonResponse } from './http-types.ts';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.ts';

/** The registration routes, path → action. */
export const WORKER_ROUTES = { '/v1/workers/register': 'register', '/v1/workers/deregister': 'deregister' } as const;
/** One of the actions of {@link WORKER_ROUTES}. */
export type WorkerAction = (typeof WORKER_ROUTES)[keyof typeof WORKER_ROUTES];

/** Shortest heartbeat TTL (s) a registration may ask for. */
export const MIN_WORKER_TTL_S = 5;

/** Longest worker URL accepted (characters). */
export const MAX_WORKER_URL_LENGTH = 2048;

/** A registration as the store returns it. */
export interface RegisteredWorker {
  readonly pool: string;
  readonly url: string;
  readonly state: 'active' | 'draining';
  /** Epoch seconds. */
  readonly expiresAt: number;
}

/** Where registrations are kept (the Config table). */
export interface WorkerStore {
  register(pool: string, url: string, ttlS: number): Promise<RegisteredWorker>;
  /** A heartbeat: renews, but does not revive a draining worker (undefined then). */
  renew(pool: string, url: string, ttlS: number): Promise<RegisteredWorker | undefined>;
  /** Marks the worker draining for `drainS`; undefined when it is not registered. */
  deregister(pool: string, url: string, drainS: number): Promise<RegisteredWorker | undefined>;
}

/** The workers' shared secret, read from its source (cached there). */
export interface SharedSecret {
  /** @throws GatewayError (503) when it cannot be read now */
  value(): Promise<string>;
}

/** What the registration routes need; without it they answer 404 (registration over HTTP is off). */
export interface WorkerRoutesDeps {
  readonly store: WorkerStore;
  readonly secret: SharedSecret;
}

/** 403: the pool exists but does not take registrations. */
export class RegistrationNotEnabledError extends GatewayError {
  constructor(pool: string) {
    super(`The pool '${pool}' does not take worker registrations (it has no "registration" in the gateway's config).`, 403, 'invalid_request_error', 'registration_not_enabled', 'pool');
  }
}

/** A heartbeat for a worker that deregistered and is still draining: it stays draining (409). */
export class WorkerDrainingError extends GatewayError {
  constructor(pool: string, url: string) {
    super(`The worker ${url} of the pool '${pool}' deregistered and is draining; a heartbeat does not bring it back (register without "heartbeat" to).`, 409, 'invalid_request_error', 'worker_draining', 'url');
  }
}

/**
 * A worker URL as it is stored and called: `http:` or `https:`, a host, no credentials, query or
 * fragment; the path is kept without its trailing slash (`http://10.0.3.7:8000/` →
 * `http://10.0.3.7:8000`).
 *
 * @throws InvalidRequestError naming what is wrong
 */
export function normaliseWorkerUrl(raw: string): string {
  if (raw.length > MAX_WORKER_URL_LENGTH) throw new InvalidRequestError(`The worker URL is longer than ${MAX_WORKER_URL_LENGTH} characters.`, 'url');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidRequestError('The worker URL is not a valid absolute URL (e.g. http://10.0.3.7:8000).', 'url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidRequestError('The worker URL must be http or https.', 'url');
  if (url.username !== '' || url.password !== '') throw new InvalidRequestError('The worker URL must not carry credentials (set the pool\'s "auth" instead).', 'url');
  if (url.search !== '' || url.hash !== '' || raw.includes('?') || raw.includes('#')) throw new InvalidRequestError('The worker URL must not have a query or a fragment.', 'url');
  if (url.hostname === '') throw new InvalidRequestError('The worker URL has no host.', 'url');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The pool's registration settings. @throws NotFoundError for an unknown pool, RegistrationNotEnabledError when it did not opt in */
export function registrationOf(config: SplitserveConfig, pool: string): { pool: PoolConfig; registration: RegistrationConfig } {
  const found = Object.hasOwn(config.pools, pool) ? config.pools[pool] : undefined;
  if (!found) throw new NotFoundError(`The pool '${pool}' does not exist.`, 'pool_not_found', 'pool');
  if (!found.registration) throw new RegistrationNotEnabledError(pool);
  return { pool: found, registration: found.registration };
}

/** How long (s) a deregistered worker of the pool stays draining: `drainS`, else the pool's call timeout. */
export function drainSecondsOf(pool: PoolConfig, registration: RegistrationConfig): number {
  return registration.drainS ?? Math.ceil(pool.timeoutMs / 1000);
}

const bodySchema = z.strictObject({
  pool: z.string().check(z.minLength(1), z.maxLength(256)),
  url: z.string().check(z.minLength(1), z.maxLength(MAX_WORKER_URL_LENGTH)),
  /** Register only: the TTL asked for, at most the pool's `heartbeatTtlS` (its default). */
  ttl_seconds: z.optional(z.int().check(z.minimum(MIN_WORKER_TTL_S))),
  /** Register only: a renewal, which does not revive a draining worker. */
  heartbeat: z.optional(z.boolean()),
});

function parseBody(raw: string): z.output<typeof bodySchema> {
  if (jsonDepthExceeds(raw, MAX_JSON_DEPTH)) throw new InvalidRequestError('The JSON body of your request is nested too deeply.');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InvalidRequestError('We could not parse the JSON body of your request. The body must be a JSON object: {"pool": "...", "url": "..."}.');
  }
  const result = bodySchema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const param = issue.path.length ? issue.path.map(String).join('.') : null;
  throw new InvalidRequestError(`Invalid ${param ? `'${param}'` : 'request'}: ${issue.message}`, param);
}

const digest = (value: string): Buffer => crypto.createHash('sha256').update(value, 'utf8').digest();

/** Whether `given` is the secret, in time independent of where they differ (digests of equal length). */
export function secretMatches(given: string, secret: string): boolean {
  return crypto.timingSafeEqual(digest(given), digest(secret));
}

/**
 * Answers a registration route.
 *
 * @throws NotFoundError (404) when registration over HTTP is not configured, MethodNotAllowedError
 * (405), AuthenticationError (401) without the shared secret, InvalidRequestError (400) for a bad
 * body or URL, NotFoundError (404) for an unknown pool or worker, RegistrationNotEnabledError (403)
 */
export async function handleWorkerRoute(
  config: SplitserveConfig,
  workers: WorkerRoutesDeps | undefined,
  action: WorkerAction,
  request: GatewayRequest,
  headers: Record<string, string>,
): Promise<GatewayResponse> {
  if (!workers) throw new NotFoundError(`Invalid URL (${request.method} ${request.path}): worker registration over HTTP is not configured ("workers.secret").`, 'unknown_url');
  if (request.method !== 'POST') throw new MethodNotAllowedError(request.method, request.path);
  const token = bearerToken(request.headers.authorization);
  if (!token) throw new AuthenticationError('Worker registration needs the shared secret in an Authorization header (Authorization: Bearer <secret>).');
  if (!secretMatches(token, await workers.secret.value())) throw new AuthenticationError('Incorrect worker secret provided.');
  const body = parseBody(request.body);
  const { pool, registration } = registrationOf(config, body.pool);
  const url = normaliseWorkerUrl(body.url);
  if (action === 'register') {
    assertHostAllowed(url, registration, body.pool);
    if (body.ttl_seconds !== undefined && body.ttl_seconds > registration.heartbeatTtlS) {
      throw new InvalidRequestError(`Invalid 'ttl_seconds': at most ${registration.heartbeatTtlS} for the pool '${body.pool}'.`, 'ttl_seconds');
    }
    const ttlS = body.ttl_seconds ?? registration.heartbeatTtlS;
    const worker = body.heartbeat === true ? await workers.store.renew(body.pool, url, ttlS) : await workers.store.register(body.pool, url, ttlS);
    if (!worker) throw new WorkerDrainingError(body.pool, url);
    return jsonResponse(200, workerJson(worker), headers);
  }
  const worker = await workers.store.deregister(body.pool, url, drainSecondsOf(pool, registration));
  if (!worker) throw new NotFoundError(`The worker ${url} is not registered in the pool '${body.pool}'.`, 'worker_not_found', 'url');
  return jsonResponse(200, workerJson(worker), headers);
}

/** The public shape of a registration. */
function workerJson(w: RegisteredWorker): Record<string, unknown> {
  return { object: 'worker', pool: w.pool, url: w.url, state: w.state, expires_at: w.expiresAt };
}

/** An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`), as the URL parser writes it (`::ffff:a00:1`). */
const V4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/**
 * Whether a host (a URL's `hostname`: a name, an IPv4 address or a bracketed IPv6 address) is one
 * of `allowed` (a pool's `registration.allowedHosts`): inside one of its CIDR blocks, one of its
 * addresses or names, or under one of its `*.domain`s. A name is not resolved: a name is allowed
 * by a name pattern only, an address by an address or block only.
 *
 * @example
 * hostAllowed('10.0.3.7', ['10.0.0.0/16']);                         // true
 * hostAllowed('gpu-1.pools.example.com', ['*.pools.example.com']);  // true
 * hostAllowed('pools.example.com', ['*.pools.example.com']);        // false
 */
export function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  let host = hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const mapped = V4_MAPPED.exec(host);
  if (mapped) {
    const hi = Number.parseInt(mapped[1]!, 16);
    const lo = Number.parseInt(mapped[2]!, 16);
    host = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const family = net.isIP(host);
  for (const entry of allowed) {
    const pattern = entry.toLowerCase();
    if (family === 0) {
      if (pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)))) return true;
      continue;
    }
    const [network, prefix] = pattern.split('/');
    const entryFamily = net.isIP(network ?? '');
    if (entryFamily !== family) continue;
    const list = new net.BlockList();
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(network!, type);
    else list.addSubnet(network!, Number(prefix), type);
    if (list.check(host, type)) return true;
  }
  return false;
}

/**
 * Refuses a worker URL whose host the pool's `registration.allowedHosts` does not name.
 *
 * @throws InvalidRequestError (400, code `url_not_allowed`)
 */
export function assertHostAllowed(url: string, registration: RegistrationConfig, pool: string): void {
  const allowed = registration.allowedHosts;
  if (registrableHost(new URL(url).hostname, allowed)) return;
  if (allowed === undefined) {
    throw new InvalidRequestError(`The worker URL's host is link-local (where instance metadata lives); the pool '${pool}' takes it only when its "registration.allowedHosts" names it.`, 'url', 'url_not_allowed');
  }
  throw new InvalidRequestError(`The worker URL's host is not one the pool '${pool}' allows (its "registration.allowedHosts").`, 'url', 'url_not_allowed');
}

/**
 * Whether a worker may be at `hostname`: one of `allowedHosts` when the pool names them, else any
 * host but a link-local one (checked at registration and again at discovery).
 */
export function registrableHost(hostname: string, allowedHosts: readonly string[] | undefined): boolean {
  return allowedHosts === undefined ? !hostAllowed(hostname, LINK_LOCAL) : hostAllowed(hostname, allowedHosts);
}

/**
 * Link-local blocks, refused without an `allowedHosts` that names them: the instance metadata
 * services (169.254.169.254, fd00:ec2::254, 169.254.170.2 for containers) live there, and no
 * inference worker does.
 */
const LINK_LOCAL: readonly string[] = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254'];
