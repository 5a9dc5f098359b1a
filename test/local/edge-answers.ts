/**
 * What the edge answers before a request reaches the core's routes, with real HTTP on loopback,
 * the official `openai` client as the caller where one can call: unknown paths, wrong methods,
 * upper-case paths and trailing slashes (404 `unknown_url`, or 405 where the runtime routes in the
 * core), bodies over 10 MB (413), deeply nested JSON (400). Registered by the node runtime's test
 * (test/local/edge-answers-node.test.ts) and the stack runtime's (test/local/stack/start-stack.test.ts).
 */
import { request } from 'node:http';
import OpenAI, { APIError } from 'openai';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambda/core/body-limit.ts';
import { MAX_JSON_DEPTH } from '../../lambda/core/json-depth.ts';

/** The runtime under test, read once its `beforeAll` has run. */
export interface EdgeTarget {
  readonly url: string;
  readonly key: string;
  readonly model: string;
}

/** How the runtime routes: in the core (node runtime) or in API Gateway (stack runtime, deployed). */
export interface EdgeRouting {
  /** A known path with the wrong method: 405 in the core, 404 `unknown_url` in API Gateway. */
  readonly wrongMethodStatus: 404 | 405;
  /** `GET /v1/models/`: the core strips the slash (200); API Gateway has no such resource (404). */
  readonly trailingSlashStatus: 200 | 404;
}

/** An HTTP answer, read whole. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * POSTs `body` with node:http and resolves with the answer, even when the server answers before
 * the upload ends and closes the connection (what a 413 does): the upload's own error is ignored
 * once the answer is in.
 */
export function rawPost(url: string, path: string, body: string, key: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    req.end(body);
  });
}

/** The error of a call expected to fail. */
async function failure(call: Promise<unknown>): Promise<APIError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** Registers the edge suite for one runtime. */
export function describeEdgeAnswers(runtime: string, target: () => EdgeTarget, routing: EdgeRouting): void {
  describe(`edge answers (${runtime})`, () => {
    const client = (base = '/v1') => new OpenAI({ baseURL: `${target().url}${base}`, apiKey: target().key, maxRetries: 0 });
    const unknownUrl = (method: string, path: string) => ({
      message: `Invalid URL (${method} ${path})`,
      type: 'invalid_request_error',
      param: null,
      code: 'unknown_url',
    });

    it('answers an unknown path with 404 unknown_url naming method and path', async () => {
      const err = await failure(client().post('/embeddings', { body: { model: target().model, input: 'x' } }));
      expect(err.status).toBe(404);
      expect(err.error).toEqual(unknownUrl('POST', '/v1/embeddings'));
    });

    it('treats paths as case-sensitive: /V1/chat/completions is an unknown URL', async () => {
      const err = await failure(client('/V1').chat.completions.create({ model: target().model, messages: [{ role: 'user', content: 'hi' }] }));
      expect(err.status).toBe(404);
      expect(err.error).toEqual(unknownUrl('POST', '/V1/chat/completions'));
    });

    it(`answers a known path with the wrong method with ${routing.wrongMethodStatus}`, async () => {
      const err = await failure(client().get('/chat/completions'));
      expect(err.status).toBe(routing.wrongMethodStatus);
      expect(err.error).toEqual(
        routing.wrongMethodStatus === 405
          ? { message: 'Method GET is not allowed on /v1/chat/completions.', type: 'invalid_request_error', param: null, code: 'method_not_allowed' }
          : unknownUrl('GET', '/v1/chat/completions'),
      );
    });

    it(`answers a trailing slash (/v1/models/) with ${routing.trailingSlashStatus}`, async () => {
      const call = client().get<{ data: Array<{ id: string }> }>('/models/');
      if (routing.trailingSlashStatus === 200) {
        expect((await call).data.map((m) => m.id)).toContain(target().model);
      } else {
        const err = await failure(call);
        expect(err.status).toBe(404);
        expect(err.error).toEqual(unknownUrl('GET', '/v1/models/'));
      }
    });

    it('refuses a body of 10 MB + 1 byte with an OpenAI-shaped 413', async () => {
      const res = await rawPost(target().url, '/v1/chat/completions', 'x'.repeat(MAX_BODY_BYTES + 1), target().key);
      expect(res.status).toBe(413);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(res.body)).toEqual({
        error: { message: `The request body is too large (at most ${MAX_BODY_BYTES} bytes).`, type: 'invalid_request_error', param: null, code: 'request_too_large' },
      });
    });

    it('reads a body of exactly 10 MB: an invalid one is a 400, not a 413', async () => {
      const head = `{"model":"${target().model}","messages":[{"role":"user","content":"`;
      const body = head + 'x'.repeat(MAX_BODY_BYTES - head.length);
      expect(Buffer.byteLength(body)).toBe(MAX_BODY_BYTES);
      const res = await rawPost(target().url, '/v1/chat/completions', body, target().key);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({ error: { message: expect.stringMatching(/could not parse the JSON body/), type: 'invalid_request_error', param: null, code: null } });
    });

    const deep: Array<[string, (model: string) => string]> = [
      ['100,000 levels in an unknown field', (m) => `{"model":"${m}","messages":[{"role":"user","content":"hi"}],"x":${nested(100_000)}}`],
      ['100,000 levels in tools', (m) => `{"model":"${m}","messages":[{"role":"user","content":"hi"}],"tools":${nested(100_000)}}`],
      ['100,000 levels in a content part', (m) => `{"model":"${m}","messages":[{"role":"user","content":[${nested(100_000)}]}]}`],
      ["5,000 levels in a content part's extra key", (m) => `{"model":"${m}","messages":[{"role":"user","content":[{"type":"text","text":"hi","x":${nested(5_000)}}]}]}`],
    ];
    it.each(deep)('refuses %s with an OpenAI-shaped 400, then serves the next request', async (_, body) => {
      const err = await failure(client().post('/chat/completions', { body: body(target().model), headers: { 'content-type': 'application/json' } }));
      expect(err.status).toBe(400);
      expect(err.error).toEqual({ message: expect.stringContaining(`at most ${MAX_JSON_DEPTH} levels`), type: 'invalid_request_error', param: null, code: null });
      const completion = await client().chat.completions.create({ model: target().model, max_tokens: 2, messages: [{ role: 'user', content: 'still there?' }] });
      expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    });
  });
}
