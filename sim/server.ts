/**
 * The simulator's HTTP server (plain node:http): vLLM's OpenAI routes plus simulator-only control
 * routes.
 *
 * | route | |
 * |---|---|
 * | `POST /v1/chat/completions`, `POST /v1/completions` | completions (see completions.ts) |
 * | `GET /v1/models` | OpenAI model list |
 * | `GET /health` | 200 `{"status":"ok"}`, 503 under the `unhealthy` fault |
 * | `GET /metrics` | vLLM's engine gauges and counters, Prometheus text (see metrics.ts) |
 * | `GET /sim/stats` | simulator-only: counters and recent requests |
 * | `POST /sim/faults` | simulator-only: replace the fault plan |
 * | `GET /sim/bootstrap/{room}` | simulator-only: SGLang room readiness (prefill side) |
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BootstrapRooms } from './bootstrap.ts';
import { handleCompletion } from './completions.ts';
import { simFaultsSchema } from './faults.ts';
import type { SimFaults } from './faults.ts';
import { readBody } from '../lambda/core/read-body.ts';
import { MAX_BODY_BYTES, sendError, sendJson } from './http-util.ts';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics.ts';
import { PrefixCache } from './prefix-cache.ts';
import { getProfile } from './profiles.ts';
import { hashString, mulberry32, randomHex } from './prng.ts';
import { BatchSlots } from './slots.ts';
import { StatsRecorder } from './stats.ts';
import type { SimContext, SimulatorHandle, SimulatorOptions } from './types.ts';

/**
 * Starts a simulator and resolves once it listens.
 *
 * @example
 * const sim = await startSimulator({ profile: 'cerebras-decode', speedup: 1000, seed: 7 });
 * await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({...}) });
 * await sim.close();
 */
export async function startSimulator(options: SimulatorOptions): Promise<SimulatorHandle> {
  const profile = getProfile(options.profile);
  const role = options.role ?? profile.defaultRole;
  const seed = (options.seed ?? 0) >>> 0;
  const models = typeof options.model === 'string' ? [options.model] : [...(options.model ?? ['llama-3.1-8b'])];
  const host = options.host ?? '127.0.0.1';
  const ctx: SimContext = {
    profile,
    role,
    speedup: options.speedup && options.speedup > 0 ? options.speedup : 1,
    seed,
    models: models.length > 0 ? models : ['llama-3.1-8b'],
    defaultMaxTokens: options.defaultMaxTokens ?? 16,
    bootstrapTimeoutMs: options.bootstrapTimeoutMs ?? 10_000,
    schedulingPolicy: options.schedulingPolicy ?? 'fcfs',
    priorityOrder: options.priorityOrder ?? 'low-first',
    host,
    port: 0,
    engineId: '',
    faults: simFaultsSchema.parse(options.faults ?? {}),
    faultRandom: mulberry32(hashString('faults', seed)),
    idRandom: mulberry32(hashString('ids', seed)),
    slots: new BatchSlots(options.slots ?? profile.maxBatch, options.schedulingPolicy ?? 'fcfs'),
    stats: new StatsRecorder(profile.name, role),
    nextBlockId: 0,
    rooms: new BootstrapRooms(),
    prefixCache: new PrefixCache(options.prefixCacheTokens ?? 0, profile.kvBlockTokens),
    shutdown: new AbortController(),
  };

  const server = createServer((req, res) => {
    route(ctx, req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, err instanceof Error ? err.message : 'simulator error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  ctx.port = (server.address() as AddressInfo).port;
  // `refuse`: the port is closed while the plan says so, and opened again on the same port.
  let refusing = false;
  const applyRefusal = (): void => {
    const refuse = ctx.faults.refuse === true;
    if (refuse === refusing) return;
    refusing = refuse;
    if (refuse) {
      server.close();
      server.closeAllConnections();
    } else {
      server.listen(ctx.port, host);
    }
  };
  applyRefusal();
  ctx.engineId = `sim-${profile.name}-${randomHex(mulberry32(hashString(`engine:${ctx.port}`, seed)), 12)}`;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${ctx.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: ctx.port,
    stats: () => ctx.stats.snapshot(ctx.slots.active, ctx.slots.queued),
    prefixCache: () => ({ lookups: ctx.prefixCache.lookups, promptTokens: ctx.prefixCache.promptTokens, cachedTokens: ctx.prefixCache.hitTokens }),
    setFaults: (faults: SimFaults) => {
      ctx.faults = simFaultsSchema.parse(faults);
      applyRefusal();
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        ctx.shutdown.abort(new Error('simulator closing'));
        if (refusing) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function route(ctx: SimContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const method = req.method ?? 'GET';
  if (method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/completions')) {
    const raw = await readBody(req, MAX_BODY_BYTES);
    if (raw === undefined) return sendError(res, 413, 'request body too large');
    return handleCompletion(ctx, req, res, path === '/v1/chat/completions' ? 'chat' : 'completion', raw);
  }
  if (method === 'GET' && path === '/v1/models') return sendJson(res, 200, modelList(ctx));
  if (method === 'GET' && path === '/health') {
    return ctx.faults.unhealthy ? sendJson(res, 503, { status: 'unhealthy' }) : sendJson(res, 200, { status: 'ok' });
  }
  if (method === 'GET' && path === '/metrics') {
    const text = metricsText({ model: ctx.models[0] ?? 'llama-3.1-8b', running: ctx.slots.active, waiting: ctx.slots.queued, slots: ctx.slots.slots, completed: ctx.stats.value('completed'),
      prefixCache: ctx.prefixCache.capacityTokens > 0 ? { queries: ctx.prefixCache.promptTokens, hits: ctx.prefixCache.hitTokens } : undefined });
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  if (method === 'GET' && path === '/sim/stats') {
    return sendJson(res, 200, ctx.stats.snapshot(ctx.slots.active, ctx.slots.queued));
  }
  if (method === 'POST' && path === '/sim/faults') return setFaultsRoute(ctx, req, res);
  const room = /^\/sim\/bootstrap\/([^/]+)$/.exec(path)?.[1];
  if (method === 'GET' && room !== undefined) {
    const record = ctx.rooms.get(decodeURIComponent(room));
    return record ? sendJson(res, 200, { room: record.room, ready: true, prompt_tokens: record.promptTokens }) : sendError(res, 404, `room ${room} not ready`);
  }
  sendError(res, 404, `no route ${method} ${path}`);
}

async function setFaultsRoute(ctx: SimContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req, MAX_BODY_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(raw ?? '');
  } catch {
    return sendError(res, 400, 'faults must be a JSON object');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return sendError(res, 400, 'faults must be a JSON object');
  const parsed = simFaultsSchema.safeParse(value);
  if (!parsed.success) {
    // One readable line, as the gateway answers a bad request body: the first problem and where.
    const issue = parsed.error.issues[0]!;
    const param = issue.path.length ? issue.path.map(String).join('.') : null;
    return sendError(res, 400, `Invalid ${param ? `'${param}'` : 'faults'}: ${issue.message}`, param);
  }
  if (parsed.data.refuse === true) return sendError(res, 400, "Invalid 'refuse': it closes the port, so it is set in process only (setFaults)", 'refuse');
  ctx.faults = parsed.data;
  sendJson(res, 200, { faults: ctx.faults });
}

function modelList(ctx: SimContext): unknown {
  const created = Math.floor(Date.now() / 1000);
  return {
    object: 'list',
    data: ctx.models.map((id) => ({ id, object: 'model', created, owned_by: 'splitserve-sim', root: id, parent: null })),
  };
}
