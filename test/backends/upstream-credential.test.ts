/**
 * The credential cache on its own, with a scripted source and an injected clock: the bound, the
 * renewal ahead of it, one read shared by concurrent callers, a refusal read once, the spacing of
 * reads after a failure, and what is logged (never the value).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CredentialUnavailableError } from '../../lambda/backends/credential-errors.ts';
import type { CredentialSource } from '../../lambda/backends/upstream-credential.ts';
import { CachedCredential, credentialHeader } from '../../lambda/backends/upstream-credential.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

const SECRET = 'tok-3f9a1c0b7e5d';

/** A source answering from a script of values (or errors), one per read, holding each read until released when `gated`. */
function scriptedSource(script: Array<string | Error>, gated = false) {
  let reads = 0;
  const pending: Array<() => void> = [];
  const source: CredentialSource = {
    name: 'env',
    read: () => {
      const step = script[Math.min(reads, script.length - 1)]!;
      reads += 1;
      const answer = () => (step instanceof Error ? Promise.reject(step) : Promise.resolve(step));
      if (!gated) return answer();
      return new Promise<void>((resolve) => pending.push(resolve)).then(answer);
    },
  };
  return {
    source,
    reads: () => reads,
    release: () => {
      for (const go of pending.splice(0)) go();
    },
  };
}

function cached(source: CredentialSource, clock: { t: number }, logger = capturingLogger()) {
  return { logger, credential: new CachedCredential(source, { pool: 'gpu', header: 'authorization', cacheMs: 10_000, minReadIntervalMs: 1000, now: () => clock.t, logger }) };
}

describe('credentialHeader', () => {
  it('sends a bearer token in Authorization and the raw value in any other header', () => {
    expect(credentialHeader('Authorization', 'abc')).toEqual({ name: 'authorization', value: 'Bearer abc' });
    expect(credentialHeader('X-Api-Key', 'abc')).toEqual({ name: 'x-api-key', value: 'abc' });
  });
});

describe('CachedCredential', () => {
  it('concurrent first calls share one read', async () => {
    const src = scriptedSource([SECRET], true);
    const { credential } = cached(src.source, { t: 0 });
    const calls = [credential.header(), credential.header(), credential.header()];
    src.release();
    expect(await Promise.all(calls)).toEqual([credentialHeader('authorization', SECRET), credentialHeader('authorization', SECRET), credentialHeader('authorization', SECRET)]);
    expect(src.reads()).toBe(1);
  });

  it('uses a value until the bound, renews it in the background after 80% of it, and waits for a read once the bound has passed', async () => {
    const src = scriptedSource(['one', 'two', 'three']);
    const clock = { t: 0 };
    const { credential } = cached(src.source, clock);
    expect((await credential.header()).value).toBe('Bearer one');
    clock.t = 7_999;
    expect((await credential.header()).value).toBe('Bearer one');
    expect(src.reads()).toBe(1);
    clock.t = 8_000;
    // The call goes on with the value in hand; the read it started lands for the next one.
    expect((await credential.header()).value).toBe('Bearer one');
    expect(src.reads()).toBe(2);
    await Promise.resolve();
    expect((await credential.header()).value).toBe('Bearer two');
    clock.t = 8_000 + 10_000;
    expect((await credential.header()).value).toBe('Bearer three');
    expect(src.reads()).toBe(3);
  });

  it('a failed background renewal keeps the value until the bound, is logged without the value, and fails the calls after the bound', async () => {
    const src = scriptedSource([SECRET, new Error('AccessDeniedException: not authorized')]);
    const clock = { t: 0 };
    const { credential, logger } = cached(src.source, clock);
    await credential.header();
    clock.t = 9_000;
    expect((await credential.header()).value).toBe(`Bearer ${SECRET}`);
    await new Promise((r) => setImmediate(r));
    expect(src.reads()).toBe(2);
    // Within the interval after a failure no further read is started.
    clock.t = 9_500;
    expect((await credential.header()).value).toBe(`Bearer ${SECRET}`);
    expect(src.reads()).toBe(2);
    clock.t = 10_000;
    const err = await credential.header().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialUnavailableError);
    expect((err as CredentialUnavailableError).statusCode).toBe(503);
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.fields)).toEqual([
      { pool: 'gpu', source: 'env', reason: 'Error: AccessDeniedException: not authorized', transient: true },
      { pool: 'gpu', source: 'env', reason: 'Error: AccessDeniedException: not authorized', transient: true },
    ]);
    expect(JSON.stringify(logger.records)).not.toContain(SECRET);
  });

  it('after a failed read, callers get that failure without a new read for the minimum interval', async () => {
    const src = scriptedSource([new CredentialUnavailableError('gpu', 'env', 'the environment variable K is not set', false), SECRET]);
    const clock = { t: 0 };
    const { credential } = cached(src.source, clock);
    const first = await credential.header().catch((e: unknown) => e);
    const second = await credential.header().catch((e: unknown) => e);
    expect(second).toBe(first);
    expect((first as CredentialUnavailableError).statusCode).toBe(502);
    expect((first as CredentialUnavailableError).retryable).toBe(false);
    expect(src.reads()).toBe(1);
    clock.t = 1_000;
    expect((await credential.header()).value).toBe(`Bearer ${SECRET}`);
    expect(src.reads()).toBe(2);
  });

  it('a refused value is read again once for every caller that saw it refused', async () => {
    const src = scriptedSource(['old', 'new'], true);
    const clock = { t: 0 };
    const { credential } = cached(src.source, clock);
    const first = credential.header();
    src.release();
    const sent = await first;
    clock.t = 5_000;
    const retries = [credential.refused(sent), credential.refused(sent)];
    src.release();
    expect((await Promise.all(retries)).map((h) => h.value)).toEqual(['Bearer new', 'Bearer new']);
    // A refusal of the old value arriving after the new one was read reads nothing more.
    expect((await credential.refused(sent)).value).toBe('Bearer new');
    expect(src.reads()).toBe(2);
  });

  it('a refusal reads again even right after a read, but a value refused again is not read again within the interval', async () => {
    const src = scriptedSource(['wrong']);
    const clock = { t: 0 };
    const { credential } = cached(src.source, clock);
    const sent = await credential.header();
    clock.t = 10;
    expect(await credential.refused(sent)).toEqual(sent);
    expect(src.reads()).toBe(2);
    clock.t = 1_009;
    expect(await credential.refused(sent)).toEqual(sent);
    expect(src.reads()).toBe(2);
    clock.t = 1_010;
    await credential.refused(sent);
    expect(src.reads()).toBe(3);
  });

  it('never shows the value when serialised or inspected (a target logged whole, a status page)', async () => {
    const { credential } = cached(scriptedSource([SECRET]).source, { t: 0 });
    await credential.header();
    expect(JSON.stringify({ target: { pool: 'gpu', credential } })).toBe('{"target":{"pool":"gpu","credential":{"pool":"gpu","source":"env"}}}');
    expect(inspect(credential, { depth: 10, showHidden: true })).not.toContain(SECRET);
  });

  it('trims the value, and refuses an empty one or one a header cannot carry, without quoting it', async () => {
    const { credential: trimmed } = cached(scriptedSource([`  ${SECRET}\n`]).source, { t: 0 });
    expect((await trimmed.header()).value).toBe(`Bearer ${SECRET}`);
    const { credential: empty } = cached(scriptedSource(['  \n']).source, { t: 0 });
    expect(await empty.header().catch((e: CredentialUnavailableError) => [e.statusCode, e.reason])).toEqual([502, 'the value is empty']);
    const { credential: injected, logger } = cached(scriptedSource([`${SECRET}\r\nx-admin: 1`]).source, { t: 0 });
    const err = (await injected.header().catch((e: unknown) => e)) as CredentialUnavailableError;
    expect(err.reason).toBe('the value holds characters a header cannot carry');
    expect(JSON.stringify([err.message, err.toJSON(), logger.records])).not.toContain(SECRET);
  });
});
