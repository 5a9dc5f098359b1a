import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs, requestsFor } from '../../bench/cli-options.ts';

describe('parseBenchArgs', () => {
  it('has the documented defaults', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({ requests: undefined, rounds: 8, concurrency: [16, 64], routes: ['agg', 'disagg'], targets: undefined, vllmToy: undefined, admissions: ['none', 'exact', 'lease'], backend: 'fake', build: 'bundle', quick: false });
    expect(requestsFor(o, 16)).toBe(1000);
    expect(requestsFor(o, 256)).toBe(2048);
  });

  it('reads lists and numbers', () => {
    const o = parseBenchArgs(['--concurrency', '1,16', '--routes', 'disagg', '--targets', 'pipe,lambda,vllm-toy', '--vllm-toy', '/v/toy_proxy_server.py', '--admission', 'exact', '--requests', '50', '--rounds', '3', '--json-out', '/tmp/x.json', '--build', 'source']);
    expect(o).toMatchObject({ build: 'source', concurrency: [1, 16], routes: ['disagg'], targets: ['pipe', 'lambda', 'vllm-toy'], vllmToy: '/v/toy_proxy_server.py', admissions: ['exact'], requests: 50, rounds: 3, jsonOut: '/tmp/x.json' });
    expect(requestsFor(o, 256)).toBe(50);
  });

  it('makes --quick a tiny run that explicit flags still override', () => {
    expect(parseBenchArgs(['--quick'])).toMatchObject({ quick: true, rounds: 1, concurrency: [1, 8], requests: 16 });
    expect(parseBenchArgs(['--quick', '--requests', '64'])).toMatchObject({ requests: 64 });
  });

  it('rejects unknown flags and bad values', () => {
    expect(() => parseBenchArgs(['--nope'])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(['--concurrency', '0'])).toThrow(/--concurrency/);
    expect(() => parseBenchArgs(['--routes', 'agg,bedrock'])).toThrow(/bedrock/);
    expect(() => parseBenchArgs(['--backend', 'real'])).toThrow(/--backend/);
    expect(() => parseBenchArgs(['--build', 'tsc'])).toThrow(/--build must be one of bundle, source, got "tsc"/);
    expect(() => parseBenchArgs(['--cpu-prof='])).toThrow(/--cpu-prof wants a path/);
    expect(() => parseBenchArgs(['--json-out', ''])).toThrow(/--json-out wants a path/);
    expect(() => parseBenchArgs(['--requests', '1.5'])).toThrow(/--requests/);
    expect(() => parseBenchArgs(['--targets', 'relay'])).toThrow(/--targets: unknown "relay"/);
    expect(() => parseBenchArgs(['--admission', 'lease,strict'])).toThrow(/--admission: unknown "strict"/);
    expect(() => parseBenchArgs(['--targets', 'pipe,vllm-toy'])).toThrow(/--targets vllm-toy needs --vllm-toy PATH/);
    expect(() => parseBenchArgs(['--vllm-toy', ''])).toThrow(/--vllm-toy wants a path/);
  });
});
