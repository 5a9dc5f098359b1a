/**
 * Which pool endpoints only answer inside a private network: a deploy with such a pool needs a VPC
 * (`vpc` in the config), because a Lambda function outside one reaches the internet only.
 */
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../lambda/core/errors.ts';
import type { DeployConfig } from './deploy-config.ts';

/** Address ranges that are not routed on the internet (RFC 1918, 6598, 3927, 4193, loopback...). */
const PRIVATE_RANGES = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT (shared address space)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local addresses
  ['fe80::', 10], // link-local
] as const) {
  PRIVATE_RANGES.addSubnet(network, prefix, 'ipv6');
}

/** Host name suffixes that only resolve inside a network (RFC 6761, 6762, 8375; AWS and GCP internal DNS). */
const PRIVATE_NAME = /(^|\.)(localhost|internal|local|localdomain|lan|intranet|home\.arpa)\.?$/i;

/** An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`), as the URL parser writes it (`::ffff:a00:1`). */
const V4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i;

/**
 * Whether a host (a URL's `hostname`: a name, an IPv4 address or a bracketed IPv6 address) is only
 * reachable on a private network.
 *
 * @example
 * isPrivateHost('10.0.1.5')            // true
 * isPrivateHost('[fd12::1]')           // true (IPv6 unique local)
 * isPrivateHost('vllm.svc.internal')   // true
 * isPrivateHost('api.openai.com')      // false
 */
export function isPrivateHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(bare);
  if (family === 4) return PRIVATE_RANGES.check(bare, 'ipv4');
  if (family === 6) {
    const mapped = V4_MAPPED.exec(bare);
    if (mapped) {
      const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
      return isPrivateHost(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    return PRIVATE_RANGES.check(bare, 'ipv6');
  }
  return PRIVATE_NAME.test(bare);
}

/** A pool endpoint and the pool naming it. */
export interface PoolEndpoint {
  readonly pool: string;
  readonly url: string;
}

/**
 * The endpoints of the config's pools (Bedrock endpoint overrides included), each with its pool.
 * Simulated pools have none.
 */
export function poolEndpoints(config: DeployConfig): PoolEndpoint[] {
  return Object.entries(config.pools).flatMap(([pool, p]) => (p.endpoints ?? []).map((url) => ({ pool, url })));
}

/**
 * The pool endpoints at a private address (see {@link isPrivateHost}).
 *
 * @example
 * privatePoolEndpoints(config) // [{ pool: 'trn-prefill', url: 'http://10.0.1.5:8000' }]
 */
export function privatePoolEndpoints(config: DeployConfig): PoolEndpoint[] {
  return poolEndpoints(config).filter(({ url }) => isPrivateHost(new URL(url).hostname));
}

/**
 * Fails when a pool has a private address (see {@link isPrivateHost}) and the config names no
 * `vpc`: a function outside a VPC reaches only the internet, so such a pool would never answer.
 *
 * @throws ConfigError naming each private endpoint and the fix
 */
export function assertPoolsReachable(config: DeployConfig, source = 'config'): void {
  if (config.vpc !== undefined) return;
  const unreachable = privatePoolEndpoints(config);
  if (unreachable.length === 0) return;
  throw new ConfigError(
    `${source}: ${unreachable.map((e) => `pool "${e.pool}" endpoint ${e.url}`).join(', ')} ${unreachable.length === 1 ? 'is at a private address' : 'are at private addresses'}, ` +
      'which a Lambda function outside a VPC cannot reach. Add a "vpc" block naming the VPC the pools are in ' +
      '(`"vpc": { "vpcId": "vpc-…", "subnetIds": ["subnet-…"], "routeTableIds": ["rtb-…"] }`) or one to create (`"vpc": { "create": true }`): docs/deploy.md, "Private pools".',
  );
}
