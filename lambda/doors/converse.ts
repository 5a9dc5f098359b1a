/**
 * The Bedrock Runtime front door: `POST /model/{modelId}/converse` and
 * `POST /model/{modelId}/converse-stream`, an adapter on the gateway's generation path. The
 * Converse body becomes the OpenAI chat body the core plans (same tiers, quotas, metering,
 * fallback, executor), and the core's answer becomes a Converse response or a ConverseStream
 * event stream. Nothing below the door knows which door a request came through.
 */
import type { SplitserveConfig } from '../core/config.ts';
import { InvalidRequestError, NotFoundError } from '../core/errors.ts';
import type { GatewayDeps } from '../core/gateway-deps.ts';
import { handleGeneration } from '../core/generate.ts';
import type { GenerationContext } from '../core/generate.ts';
import type { GatewayResponse } from '../core/http-types.ts';
import { parseConverseBody, toChatBody } from './converse-request.ts';
import { toConverseResponse } from './converse-response.ts';
import { converseEventStream, EVENT_STREAM_CONTENT_TYPE } from './converse-stream.ts';

/** A request to the door: the model ID of its path (URL-decoded) and whether it streams. */
export interface ConverseRoute {
  readonly modelId: string;
  readonly stream: boolean;
}

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;

/**
 * The door's route of a request path, or undefined for any other path. The SDK URL-encodes the
 * model ID (`:` as `%3A`); a path API Gateway already decoded matches too.
 *
 * @example
 * matchConverseRoute('/model/llama-3.1-8b/converse-stream') // { modelId: 'llama-3.1-8b', stream: true }
 */
export function matchConverseRoute(path: string): ConverseRoute | undefined {
  const match = ROUTE.exec(path);
  if (!match) return undefined;
  let modelId = match[1]!;
  try {
    modelId = decodeURIComponent(modelId);
  } catch {
    throw new InvalidRequestError(`The model ID in the path is not valid URL encoding: '${modelId}'.`, 'modelId');
  }
  return { modelId, stream: match[2] === 'converse-stream' };
}

/**
 * The public model a path's model ID names: a model of the configuration by its name, or by the
 * Bedrock model ID a pool serves it under (`modelIds`), so a client's existing Bedrock model ID
 * works unchanged.
 *
 * @throws NotFoundError (a `ResourceNotFoundException`) for any other ID
 */
export function resolveModel(config: Pick<SplitserveConfig, 'models' | 'pools'>, modelId: string): string {
  if (config.models[modelId]) return modelId;
  for (const [model, settings] of Object.entries(config.models)) {
    for (const pool of settings.pools) {
      if (config.pools[pool]?.modelIds?.[model] === modelId) return model;
    }
  }
  throw new NotFoundError(`The model '${modelId}' does not exist or you do not have access to it.`, 'model_not_found', 'modelId');
}

/** The error a relayed body ended with (core/stream-relay.ts), when the body is one. */
function failureOf(body: GatewayResponse['body']): unknown {
  return typeof body === 'object' && body !== null && 'failure' in body ? (body as { failure: unknown }).failure : undefined;
}

/**
 * Serves one Converse or ConverseStream request of an authenticated caller. Errors are thrown
 * typed, and become Bedrock exceptions at the edge (core/gateway.ts, converse-errors.ts).
 */
export async function handleConverse(deps: GatewayDeps, route: ConverseRoute, rawBody: string, ctx: GenerationContext): Promise<GatewayResponse> {
  const model = resolveModel(deps.config, route.modelId);
  const request = parseConverseBody(rawBody);
  const chat = toChatBody(model, request, route.stream);
  const askedOptimized = request.performanceConfig?.latency === 'optimized';
  const answer = await handleGeneration(deps, 'chat', JSON.stringify(chat), ctx);
  const { 'content-type': _type, 'cache-control': _cache, 'x-accel-buffering': _buffering, 'openai-processing-ms': _ms, ...headers } = answer.headers;
  headers['x-amzn-requestid'] = ctx.requestId;
  if (typeof answer.body === 'string') {
    const completion = JSON.parse(answer.body) as Record<string, unknown>;
    const body = JSON.stringify(toConverseResponse(completion, Date.now() - ctx.startedAt, askedOptimized));
    return { status: answer.status, headers: { 'content-type': 'application/json', ...headers }, body };
  }
  return {
    status: answer.status,
    headers: { 'content-type': EVENT_STREAM_CONTENT_TYPE, 'cache-control': 'no-cache', 'x-accel-buffering': 'no', ...headers },
    body: converseEventStream(answer.body, { startedAt: ctx.startedAt, askedOptimized, failure: () => failureOf(answer.body) }),
  };
}
