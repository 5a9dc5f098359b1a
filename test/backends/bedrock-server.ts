/**
 * A local server that speaks Amazon Bedrock Runtime's REST protocol on a loopback port, for the
 * real `@aws-sdk/client-bedrock-runtime` pointed at it through `endpoint`. It speaks HTTP/2
 * (cleartext, prior knowledge) because the Bedrock Runtime client's default handler is
 * `NodeHttp2Handler`, as towards the real service:
 * `POST /model/{modelId}/converse` (JSON) and `POST /model/{modelId}/converse-stream`
 * (`application/vnd.amazon.eventstream`, each message framed by `EventStreamCodec`). It records
 * every request and answers from a script (FIFO), else with a default text answer.
 */
import { createServer } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session, IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { MessageHeaders } from '@smithy/eventstream-codec';

/** `@smithy/util-utf8`'s `toUtf8`/`fromUtf8` (the package is not installed on its own). */
const toUtf8 = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const fromUtf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One request the server received. */
export interface BedrockRequest {
  readonly operation: 'converse' | 'converse-stream';
  /** The model ID, URL-decoded. */
  readonly modelId: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** One ConverseStream message: an event, or an exception. */
export type StreamMessage =
  | { readonly event: string; readonly body: Record<string, unknown> }
  | { readonly exception: string; readonly message: string };

/** A scripted reply. */
export type BedrockReply =
  | { readonly kind: 'json'; readonly body: Record<string, unknown> }
  | { readonly kind: 'error'; readonly status: number; readonly type: string; readonly message: string }
  | { readonly kind: 'events'; readonly messages: readonly StreamMessage[]; readonly delayMs?: number };

/** A running Bedrock-protocol server. */
export interface BedrockServer {
  readonly url: string;
  readonly requests: BedrockRequest[];
  /** Event streams the client closed before the server finished writing them. */
  readonly cancelledStreams: () => number;
  /** Queues replies, used in order by the next requests (then the default answer). */
  script(...replies: BedrockReply[]): void;
  close(): Promise<void>;
}

const USAGE = { inputTokens: 11, outputTokens: 3, totalTokens: 14 };

/** A Converse answer with text (and optional tool uses). */
export function converseAnswer(
  text: string,
  options: { stopReason?: string; toolUses?: Array<{ toolUseId: string; name: string; input: unknown }> } = {},
): Extract<BedrockReply, { kind: 'json' }> {
  const content: unknown[] = text ? [{ text }] : [];
  for (const toolUse of options.toolUses ?? []) content.push({ toolUse });
  return {
    kind: 'json',
    body: { output: { message: { role: 'assistant', content } }, stopReason: options.stopReason ?? 'end_turn', usage: USAGE, metrics: { latencyMs: 5 } },
  };
}

/** A ConverseStream answer streaming `parts` as text deltas. */
export function textEvents(parts: readonly string[], stopReason = 'end_turn'): StreamMessage[] {
  return [
    { event: 'messageStart', body: { role: 'assistant' } },
    ...parts.map((text) => ({ event: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text } } })),
    { event: 'contentBlockStop', body: { contentBlockIndex: 0 } },
    { event: 'messageStop', body: { stopReason } },
    { event: 'metadata', body: { usage: USAGE, metrics: { latencyMs: 5 } } },
  ];
}

/** A ConverseStream answer calling one tool, its input JSON split across deltas. */
export function toolEvents(toolUseId: string, name: string, inputParts: readonly string[]): StreamMessage[] {
  return [
    { event: 'messageStart', body: { role: 'assistant' } },
    { event: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text: 'Let me check.' } } },
    { event: 'contentBlockStop', body: { contentBlockIndex: 0 } },
    { event: 'contentBlockStart', body: { contentBlockIndex: 1, start: { toolUse: { toolUseId, name } } } },
    ...inputParts.map((input) => ({ event: 'contentBlockDelta', body: { contentBlockIndex: 1, delta: { toolUse: { input } } } })),
    { event: 'contentBlockStop', body: { contentBlockIndex: 1 } },
    { event: 'messageStop', body: { stopReason: 'tool_use' } },
    { event: 'metadata', body: { usage: USAGE, metrics: { latencyMs: 5 } } },
  ];
}

function str(value: string) {
  return { type: 'string' as const, value };
}

/** Frames one stream message as Bedrock does (binary event-stream message, JSON payload). */
export function encodeStreamMessage(message: StreamMessage): Uint8Array {
  const headers: MessageHeaders =
    'event' in message
      ? { ':event-type': str(message.event), ':content-type': str('application/json'), ':message-type': str('event') }
      : { ':exception-type': str(message.exception), ':content-type': str('application/json'), ':message-type': str('exception') };
  const payload = 'event' in message ? message.body : { message: message.message };
  return codec.encode({ headers, body: fromUtf8(JSON.stringify(payload)) });
}

function sendJson(res: Http2ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': 'test-request', ...headers });
  res.end(text);
}

/** Answers one request; resolves false when the client closed an event stream before its end. */
async function answer(req: BedrockRequest, reply: BedrockReply | undefined, res: Http2ServerResponse): Promise<boolean> {
  if (reply?.kind === 'error') {
    sendJson(res, reply.status, { message: reply.message }, { 'x-amzn-errortype': `${reply.type}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
    return true;
  }
  if (req.operation === 'converse') {
    sendJson(res, 200, reply?.kind === 'json' ? reply.body : converseAnswer('Hello from Bedrock.').body);
    return true;
  }
  const messages = reply?.kind === 'events' ? reply.messages : textEvents(['Hello', ' from', ' Bedrock.']);
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'test-request' });
  for (const message of messages) {
    if (res.stream.destroyed || res.stream.closed) return false;
    res.write(encodeStreamMessage(message));
    if (reply?.kind === 'events' && reply.delayMs) await sleep(reply.delayMs);
  }
  res.end();
  return true;
}

/** Starts the server on 127.0.0.1 and an ephemeral port. */
export async function startBedrockServer(): Promise<BedrockServer> {
  const requests: BedrockRequest[] = [];
  const queue: BedrockReply[] = [];
  let cancelled = 0;
  const sessions = new Set<Http2Session>();
  const server = createServer(async (req: Http2ServerRequest, res: Http2ServerResponse) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const match = /^\/model\/([^/]+)\/(converse|converse-stream)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      sendJson(res, 404, { message: `no route ${req.method} ${req.url}` }, { 'x-amzn-errortype': 'UnknownOperationException' });
      return;
    }
    const recorded: BedrockRequest = {
      operation: match[2] as BedrockRequest['operation'],
      modelId: decodeURIComponent(match[1]!),
      headers: req.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
    requests.push(recorded);
    if (!(await answer(recorded, queue.shift(), res))) cancelled += 1;
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cancelledStreams: () => cancelled,
    script: (...replies) => void queue.push(...replies),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}

/**
 * Sets dummy AWS credentials in the environment so the SDK's default credential chain resolves
 * them at once and never reaches the network; returns the function that restores the environment.
 */
export function useDummyCredentials(): () => void {
  const keys = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_EC2_METADATA_DISABLED'] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  process.env.AWS_ACCESS_KEY_ID = 'AKIDTESTTESTTESTTEST';
  process.env.AWS_SECRET_ACCESS_KEY = 'test-secret-not-a-real-key';
  delete process.env.AWS_SESSION_TOKEN;
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  return () => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  };
}
