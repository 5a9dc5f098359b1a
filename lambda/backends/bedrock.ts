/**
 * Amazon Bedrock through the Converse API (`@aws-sdk/client-bedrock-runtime`): aggregated routes
 * only. A non-streamed request is one `Converse` call answered as a `chat.completion` (or a legacy
 * `text_completion`); a streamed one is `ConverseStream`, relayed as chunks ending with the usage
 * chunk and `[DONE]`. The served tier becomes Converse's `serviceTier` (and `performanceConfig`).
 * Mapping lives in bedrock-messages.ts, bedrock-response.ts, bedrock-stream.ts and bedrock-errors.ts.
 */
import { BedrockClients, bedrockSdk } from './bedrock-client.ts';
import { bedrockError } from './bedrock-errors.ts';
import { toConverseInput } from './bedrock-messages.ts';
import { completionIdentity, toOpenAICompletion } from './bedrock-response.ts';
import { converseChunks } from './bedrock-stream.ts';
import type { BackendCall, BackendProtocol, UpstreamCompletion } from '../core/backend-ports.ts';

/**
 * A Bedrock protocol with its own client cache (one client per region and endpoint, reused
 * across requests).
 *
 * @example
 * const protocol = bedrockProtocol();
 * const completion = await protocol.aggregated!.complete(call, { model: 'llama-3.1-8b', messages });
 */
export function bedrockProtocol(clients: BedrockClients = new BedrockClients()): BackendProtocol {
  async function complete(call: BackendCall, body: Record<string, unknown>): Promise<UpstreamCompletion> {
    const input = toConverseInput(body, { api: call.api, pool: call.pool, tier: call.tier, tierConfig: call.tierConfig });
    const pool = call.target.pool;
    const identity = completionIdentity(call.api, call.requestId, typeof body.model === 'string' ? body.model : input.modelId);
    const client = await clients.get({
      region: call.pool?.region,
      endpoint: call.target.endpoint,
      timeoutMs: call.target.timeoutMs,
    });
    const { ConverseCommand, ConverseStreamCommand } = await bedrockSdk();
    try {
      if (body.stream !== true) {
        const answer = await client.send(new ConverseCommand(input), { abortSignal: call.signal });
        return { kind: 'json', json: toOpenAICompletion(answer, call.api, identity) };
      }
      const stop = new AbortController();
      const answer = await client.send(new ConverseStreamCommand(input), { abortSignal: AbortSignal.any([call.signal, stop.signal]) });
      if (!answer.stream) throw bedrockError({ name: 'ModelStreamErrorException', message: 'no event stream in the answer' }, pool);
      const cancel = () => stop.abort(new Error('stream consumer stopped'));
      return { kind: 'stream', batches: converseChunks(answer.stream, { api: call.api, identity, pool, signal: call.signal, cancel }) };
    } catch (err) {
      throw bedrockError(err, pool, call.signal);
    }
  }
  return { aggregated: { complete } };
}

/** The Bedrock protocol of the registry (lambda/backends/registry.ts). */
export const bedrock: BackendProtocol = bedrockProtocol();
