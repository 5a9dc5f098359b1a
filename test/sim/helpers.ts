/**
 * Helpers of the simulator tests: JSON POSTs and an SSE reader over real HTTP.
 */

/** POSTs a JSON body. */
export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** The `data:` payloads of an SSE text, in order (`[DONE]` kept as the string). */
export function sseEvents(text: string): unknown[] {
  return text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice('data: '.length))
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

/** A chat completion chunk, loosely typed for assertions. */
export interface Chunk {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta?: { role?: string; content?: string; tool_calls?: Array<{ index: number; id?: string; type?: string; function: { name?: string; arguments: string } }> };
    text?: string;
    logprobs: null;
    finish_reason: string | null;
  }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

/** Polls `check` every 5 ms until it is true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** A short chat body. */
export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'Say something about wafers.' }], ...extra };
}
