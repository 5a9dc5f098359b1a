/**
 * The Bedrock Runtime client as the Converse door's tests use it: pointed at the gateway with a
 * splitserve key as its bearer token (as docs/bedrock-clients.md shows), and a stream collector.
 */
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { ConverseStreamOutput, Message } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** A Bedrock Runtime client as a user points it at the gateway (docs/bedrock-clients.md). */
export function gatewayClient(endpoint: string, key: string, maxAttempts = 1): BedrockRuntimeClient {
  return new BedrockRuntimeClient({ region: 'us-east-1', endpoint, token: { token: key }, authSchemePreference: ['httpBearerAuth'], maxAttempts });
}

/** The same client over HTTP/1.1 (`NodeHttpHandler`), as a client of the deployed API must be configured. */
export function http1GatewayClient(endpoint: string, key: string): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint,
    token: { token: key },
    authSchemePreference: ['httpBearerAuth'],
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  });
}

/** A user turn of one text block. */
export const user = (text: string): Message => ({ role: 'user', content: [{ text }] });

/** Collects a ConverseStream: its events in order, the text, and the error it threw (if any). */
export async function collectStream(stream: AsyncIterable<ConverseStreamOutput> | undefined) {
  const events: ConverseStreamOutput[] = [];
  let error: unknown;
  try {
    for await (const event of stream ?? []) events.push(event);
  } catch (err) {
    error = err;
  }
  const text = events.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');
  const kinds = events.map((e) => Object.keys(e).find((k) => (e as unknown as Record<string, unknown>)[k] !== undefined));
  return { events, text, kinds, error };
}


/** A weather tool, as a Converse `toolConfig` forcing it. */
export const WEATHER_TOOLS = {
  tools: [
    {
      toolSpec: {
        name: 'weather',
        description: 'The weather of a city',
        inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      },
    },
  ],
  toolChoice: { tool: { name: 'weather' } },
};
