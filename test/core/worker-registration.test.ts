/**
 * What a worker registration may name: the pool's opt-in in the config schema, the URL rules, the
 * drain time, and the constant-time secret comparison.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { ConfigError, InvalidRequestError, NotFoundError } from '../../lambda/core/errors.ts';
import { assertHostAllowed, drainSecondsOf, hostAllowed, normaliseWorkerUrl, registrationOf, RegistrationNotEnabledError, secretMatches } from '../../lambda/core/worker-registration.ts';

const base = {
  models: { m: { pools: ['p'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'p' } } },
};

describe('registration in the config', () => {
  it('lets a pool with registration leave out endpoints, and fills the defaults', () => {
    const config = parseConfig({ ...base, pools: { p: { protocol: 'vllm-nixl', registration: {} } } });
    expect(config.pools.p!.registration).toEqual({ heartbeatTtlS: 30, refreshMs: 5000 });
    expect(config.pools.p!.endpoints).toBeUndefined();
  });

  it('still needs endpoints or simulate without registration, and refuses both together', () => {
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai' } } })).toThrow(/exactly one of "endpoints" or "simulate"/);
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: {}, endpoints: ['http://a'], simulate: { profile: 'gpu-aggregated' } } } })).toThrow(ConfigError);
  });

  it('refuses registration on a Bedrock pool, out-of-range settings, and a secret with two sources', () => {
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'bedrock', region: 'us-east-1', registration: {} } } })).toThrow(/pools\.p\.registration: Bedrock pools have no workers/);
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: { heartbeatTtlS: 2 } } } })).toThrow(/heartbeatTtlS/);
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: { refreshMs: 10 } } } })).toThrow(/refreshMs/);
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: {} } }, workers: { secret: { env: 'A', parameter: '/b' } } })).toThrow(/exactly one of/);
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: {} } }, workers: { secret: { env: 'A', header: 'x' } } })).toThrow(ConfigError);
  });

  it('tells an unknown pool (404) from one that did not opt in (403), and drains for drainS or the call timeout', () => {
    const config = parseConfig({
      ...base,
      models: { m: { pools: ['p', 'q'] } },
      pools: { p: { protocol: 'openai', registration: {}, timeoutMs: 45_500 }, q: { protocol: 'openai', endpoints: ['http://a'], registration: { drainS: 7 } }, r: { protocol: 'openai', endpoints: ['http://b'] } },
    });
    expect(() => registrationOf(config, 'nope')).toThrow(NotFoundError);
    expect(() => registrationOf(config, 'toString')).toThrow(NotFoundError);
    expect(() => registrationOf(config, 'r')).toThrow(RegistrationNotEnabledError);
    const p = registrationOf(config, 'p');
    expect(drainSecondsOf(p.pool, p.registration)).toBe(46);
    const q = registrationOf(config, 'q');
    expect(drainSecondsOf(q.pool, q.registration)).toBe(7);
  });
});

describe('normaliseWorkerUrl', () => {
  it('keeps http(s) URLs with a host, without the trailing slash', () => {
    expect(normaliseWorkerUrl('http://10.0.3.7:8000/')).toBe('http://10.0.3.7:8000');
    expect(normaliseWorkerUrl('https://gpu-7.pools.example.com/vllm/')).toBe('https://gpu-7.pools.example.com/vllm');
    expect(normaliseWorkerUrl('http://[::1]:8000')).toBe('http://[::1]:8000');
    expect(normaliseWorkerUrl('HTTP://Worker.Example.com:80')).toBe('http://worker.example.com');
  });

  it.each([
    ['not a url', /valid absolute URL/],
    ['ftp://10.0.3.7', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['http://user:pw@10.0.3.7:8000', /credentials/],
    ['http://10.0.3.7:8000/?x=1', /query/],
    ['http://10.0.3.7:8000/#x', /fragment/],
    [`http://10.0.3.7/${'a'.repeat(2100)}`, /longer than/],
  ])('refuses %s', (url, message) => {
    expect(() => normaliseWorkerUrl(url)).toThrow(InvalidRequestError);
    expect(() => normaliseWorkerUrl(url)).toThrow(message);
  });
});

describe('secretMatches', () => {
  it('matches the secret only, whatever the lengths', () => {
    expect(secretMatches('s3cret-value', 's3cret-value')).toBe(true);
    expect(secretMatches('s3cret-valuf', 's3cret-value')).toBe(false);
    expect(secretMatches('', 's3cret-value')).toBe(false);
    expect(secretMatches('s3cret-value-and-more', 's3cret-value')).toBe(false);
  });
});

describe('allowedHosts', () => {
  it('accepts blocks, addresses, names and *.domain entries, and refuses anything else', () => {
    const config = parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: { allowedHosts: ['10.0.0.0/16', '10.1.2.3', 'fd00::/8', 'gpu-1.pools.example.com', '*.pools.internal'] } } } });
    expect(config.pools.p!.registration!.allowedHosts).toHaveLength(5);
    for (const bad of ['10.0.0.0/33', '999.1.1.1', 'fd00::/129', 'http://x', '*', 'a b', '10.0.0.0/8/1', '*.']) {
      expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', registration: { allowedHosts: [bad] } } } }), bad).toThrow(/allowedHosts/);
    }
  });

  it('matches a URL host by block, address, name or domain, never a name by an address', () => {
    const allowed = ['10.0.0.0/16', '10.9.9.9', 'fd00::/8', 'gpu-1.pools.example.com', '*.pools.internal'];
    for (const host of ['10.0.3.7', '10.9.9.9', '[fd00::1]', 'fd12::5', 'gpu-1.pools.example.com', 'GPU-1.Pools.Example.com', 'a.pools.internal', 'a.b.pools.internal', '::ffff:a00:1']) {
      expect(hostAllowed(host, allowed), host).toBe(true);
    }
    for (const host of ['10.1.0.1', '10.9.9.8', '[fe80::1]', 'gpu-2.pools.example.com', 'pools.internal', 'evilpools.internal', '169.254.169.254', 'localhost']) {
      expect(hostAllowed(host, allowed), host).toBe(false);
    }
  });

  it('refuses a worker URL outside the pool\'s hosts with a 400 url_not_allowed; any host without allowedHosts', () => {
    const registration = { heartbeatTtlS: 30, refreshMs: 5000, allowedHosts: ['10.0.0.0/16'] };
    expect(() => assertHostAllowed('http://10.0.3.7:8000', registration, 'p')).not.toThrow();
    expect(() => assertHostAllowed('http://10.1.3.7:8000', registration, 'p')).toThrow(expect.objectContaining({ statusCode: 400, code: 'url_not_allowed', param: 'url' }));
    expect(() => assertHostAllowed('http://anywhere.example.com', { heartbeatTtlS: 30, refreshMs: 5000 }, 'p')).not.toThrow();
  });

  it('refuses link-local hosts (instance metadata) without an allowedHosts that names them', () => {
    const open = { heartbeatTtlS: 30, refreshMs: 5000 };
    for (const url of ['http://169.254.169.254/latest', 'http://169.254.170.2', 'http://[fd00:ec2::254]', 'http://[fe80::1]:8000']) {
      expect(() => assertHostAllowed(url, open, 'p'), url).toThrow(expect.objectContaining({ statusCode: 400, code: 'url_not_allowed' }));
    }
    expect(() => assertHostAllowed('http://127.0.0.1:8000', open, 'p')).not.toThrow();
    expect(() => assertHostAllowed('http://169.254.10.1:8000', { ...open, allowedHosts: ['169.254.10.0/24'] }, 'p')).not.toThrow();
  });

  it('needs allowedHosts on a pool with auth that takes registrations, so its credential goes only there', () => {
    const auth = { env: 'POOL_KEY' };
    expect(() => parseConfig({ ...base, pools: { p: { protocol: 'openai', auth, registration: {} } } })).toThrow(/allowedHosts/);
    expect(parseConfig({ ...base, pools: { p: { protocol: 'openai', auth, registration: { allowedHosts: ['10.0.0.0/16'] } } } }).pools.p!.registration!.allowedHosts).toEqual(['10.0.0.0/16']);
  });
});
