/**
 * Private pool addresses (lib/private-addresses.ts): the ranges and names a Lambda function
 * outside a VPC cannot reach.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';
import { isPrivateHost, privatePoolEndpoints } from '../../lib/private-addresses.ts';

const hostOf = (url: string) => new URL(url).hostname;

describe('isPrivateHost', () => {
  it.each([
    'http://10.0.1.5:8000',
    'http://10.255.255.255',
    'http://172.16.0.1',
    'http://172.31.255.254',
    'http://192.168.1.20:8000',
    'http://127.0.0.1:8301',
    'http://169.254.169.254',
    'http://100.64.0.7',
    'http://0.0.0.0:8000',
    'http://[::1]:8000',
    'http://[fd12:3456:789a::1]:8000',
    'http://[fc00::5]',
    'http://[fe80::1]',
    'http://[::ffff:10.0.0.1]:80',
    'http://localhost:8000',
    'http://vllm.localhost',
    'http://prefill.pools.internal:8000',
    'http://ip-10-0-1-5.ec2.internal',
    'http://decode.local',
    'http://gpu.home.arpa',
    'http://x.internal.:8000',
  ])('%s is private', (url) => {
    expect(isPrivateHost(hostOf(url))).toBe(true);
  });

  it.each([
    'https://api.openai.com',
    'http://8.8.8.8',
    'http://172.15.255.255',
    'http://172.32.0.1',
    'http://192.169.0.1',
    'http://11.0.0.1',
    'http://100.128.0.1',
    'http://[2001:db8::1]',
    'http://[::ffff:8.8.8.8]',
    'https://internal.example.com',
    'https://vpce-0123.bedrock-runtime.us-east-1.vpce.amazonaws.com',
  ])('%s is public', (url) => {
    expect(isPrivateHost(hostOf(url))).toBe(false);
  });
});

describe('privatePoolEndpoints', () => {
  it('lists each private endpoint with its pool, and nothing for simulated or Bedrock pools', () => {
    const config = toDeployConfig(
      parseConfig({
        pools: {
          a: { protocol: 'openai', endpoints: ['https://a.example.com', 'http://10.1.2.3:8000'] },
          b: { protocol: 'openai', simulate: { profile: 'gpu-aggregated' } },
          c: { protocol: 'bedrock', region: 'us-east-1' },
          d: { protocol: 'sglang', endpoints: ['http://[fd00::9]:30000'] },
        },
        models: { m: { pools: ['a', 'b', 'c', 'd'] } },
        tiers: { default: { route: { mode: 'aggregated', pool: 'a' } } },
      }),
    );
    expect(privatePoolEndpoints(config)).toEqual([
      { pool: 'a', url: 'http://10.1.2.3:8000' },
      { pool: 'd', url: 'http://[fd00::9]:30000' },
    ]);
  });
});
