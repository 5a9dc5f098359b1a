/**
 * A simulator that registers itself into a gateway's pool (docs/worker-registration.md), as a real
 * worker would: `POST /v1/workers/register` with the workers' shared secret, again at a third of
 * the registration's remaining life (the heartbeat), and `POST /v1/workers/deregister` when it
 * stops. The secret is sent only to the gateway and never printed.
 */

/** Options of {@link registerWithGateway}. */
export interface RegistrationOptions {
  /** The gateway's base URL, e.g. `http://127.0.0.1:8787` (the routes are under `/v1/workers/`). */
  readonly gateway: string;
  readonly pool: string;
  /** The URL the gateway calls this worker at. */
  readonly url: string;
  /** The workers' shared secret. */
  readonly secret: string;
  /** Told about a failed heartbeat (the next one is tried at the usual interval). @default ignore */
  readonly onError?: (err: Error) => void;
}

/** A running registration. */
export interface Registration {
  /** When the current registration lapses without another heartbeat, epoch seconds. */
  readonly expiresAt: () => number;
  /** Stops the heartbeat and deregisters (the gateway drains this worker). */
  stop(): Promise<void>;
}

/** Shortest wait (ms) between two heartbeats. */
const MIN_HEARTBEAT_MS = 500;

async function post(options: RegistrationOptions, action: 'register' | 'deregister', heartbeat = false): Promise<{ expires_at: number }> {
  const res = await fetch(`${options.gateway.replace(/\/+$/, '')}/v1/workers/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ pool: options.pool, url: options.url, ...(heartbeat ? { heartbeat: true } : {}) }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json().catch(() => ({}))) as { expires_at?: number; error?: { message?: string } };
  if (!res.ok) throw new Error(`${action} refused (HTTP ${res.status}): ${body.error?.message ?? 'no message'}`);
  return { expires_at: body.expires_at ?? 0 };
}

/**
 * Registers the worker now (rejects when the gateway refuses), then keeps it registered until
 * `stop()`.
 *
 * @example
 * const registration = await registerWithGateway({ gateway: 'http://127.0.0.1:8787', pool: 'gpu', url: sim.url, secret });
 * // …
 * await registration.stop();
 */
export async function registerWithGateway(options: RegistrationOptions): Promise<Registration> {
  let expiresAt = (await post(options, 'register')).expires_at;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** The heartbeat on the wire, if any: the deregistration waits for it, so it cannot land after. */
  let inFlight: Promise<void> | undefined;
  const schedule = (): void => {
    const wait = Math.max(MIN_HEARTBEAT_MS, ((expiresAt * 1000 - Date.now()) / 3) | 0);
    timer = setTimeout(() => {
      inFlight = post(options, 'register', true)
        .then((r) => void (expiresAt = r.expires_at))
        .catch((err: unknown) => options.onError?.(err as Error))
        .finally(() => {
          inFlight = undefined;
          if (!stopped) schedule();
        });
    }, wait);
    timer.unref();
  };
  schedule();
  return {
    expiresAt: () => expiresAt,
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      await post(options, 'deregister');
    },
  };
}
