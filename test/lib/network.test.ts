/**
 * Private pools (lib/network.ts, lib/private-addresses.ts): the stack synthesized in-process with
 * an existing VPC and with a created one; the functions' VPC placement and security groups, the
 * endpoints, cdk-nag; synth refusing a private pool without a VPC; the local synth ignoring `vpc`.
 */
import { readFileSync } from 'node:fs';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { FUNCTION_ENV } from '../../lib/deploy-config.ts';
import { OPTIONAL_STACK_OUTPUTS, SplitserveStack } from '../../lib/splitserve-stack.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

/** The deployable example: pools at 10.0.x addresses, with its `vpc`. */
const example = JSON.parse(readFileSync(new URL('../../examples/deploy.config.json', import.meta.url), 'utf8')) as Record<string, any>;

const privatePools = {
  pools: {
    'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['http://10.0.1.5:8000', 'http://10.0.1.6:8000'] },
    'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: ['http://10.0.2.5:8100'] },
    gpu: { protocol: 'openai', endpoints: ['http://gpu.pools.internal:9000'] },
  },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, slo: { ttftMs: 300, tpotMs: 5 }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 1000, tpotMs: 50 } },
  },
};

const existingVpc = {
  vpcId: 'vpc-0a1b2c3d4e5f60718',
  subnetIds: ['subnet-0a1b2c3d4e5f60711', 'subnet-0a1b2c3d4e5f60722'],
  routeTableIds: ['rtb-0a1b2c3d4e5f60733'],
  securityGroupIds: ['sg-0a1b2c3d4e5f60744'],
};

const createdWithBedrock = {
  ...privatePools,
  pools: { ...privatePools.pools, bedrock: { protocol: 'bedrock', region: 'us-east-1', modelIds: { 'llama-3.1-8b': 'meta.llama3-1-8b-instruct-v1:0' } } },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu', 'bedrock'] } },
  tiers: { ...privatePools.tiers, default: { ...privatePools.tiers.default, fallback: 'flex' }, flex: { route: { mode: 'bedrock', pool: 'bedrock' } } },
  vpc: { create: true },
};

interface Synth {
  readonly stack: Stack;
  readonly template: Template;
  readonly resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

function synth(id: string, config: unknown, options: { local?: boolean } = {}): Synth {
  const stack = new SplitserveStack(new App({ context }), id, { config: parseConfig(config), ...options });
  const template = Template.fromStack(stack);
  return { stack, template, resources: (template.toJSON() as { Resources: Synth['resources'] }).Resources };
}

const ofType = (s: Synth, type: string) => Object.entries(s.resources).filter(([, r]) => r.Type === type);

/** splitserve's own functions by handler (the stack's custom resources have handlers of their own). */
function splitserveFunctions(s: Synth): Record<string, Record<string, any>> {
  return Object.fromEntries(
    ofType(s, 'AWS::Lambda::Function')
      .map(([, r]) => r.Properties!)
      .filter((p) => String(p.Environment?.Variables?.POWERTOOLS_SERVICE_NAME ?? '').startsWith('splitserve'))
      .map((p) => [String(p.Handler).replace(/^index\./, ''), p]),
  );
}

/** The logical ids of the security groups a function is in. */
function groupsOf(fn: Record<string, any>): string[] {
  return (fn.VpcConfig.SecurityGroupIds as unknown[]).map((g) => {
    const ref = g as { 'Fn::GetAtt'?: [string, string] };
    return ref['Fn::GetAtt'] ? ref['Fn::GetAtt'][0] : String(g);
  });
}

function groupId(s: Synth, prefix: string): string {
  const found = ofType(s, 'AWS::EC2::SecurityGroup').find(([id]) => id.startsWith(prefix));
  if (!found) throw new Error(`no security group ${prefix}`);
  return found[0];
}

/** A security group's egress rules: inline, and those CDK writes as resources of their own. */
function egressOf(s: Synth, group: string): Array<Record<string, any>> {
  const inline = (s.resources[group]!.Properties!.SecurityGroupEgress ?? []) as Array<Record<string, any>>;
  const separate = ofType(s, 'AWS::EC2::SecurityGroupEgress')
    .map(([, r]) => r.Properties!)
    .filter((p) => p.GroupId?.['Fn::GetAtt']?.[0] === group);
  return [...inline, ...separate];
}

let existing: Synth;
let created: Synth;

beforeAll(() => {
  existing = synth('PrivatePoolsExisting', { ...privatePools, vpc: existingVpc, alarms: { topicArn: 'arn:aws:sns:us-east-1:123456789012:oncall' } });
  created = synth('PrivatePoolsCreated', createdWithBedrock);
}, 300_000);

describe('a config with a private pool', () => {
  it('fails to synthesize without a vpc, naming each private endpoint and the fix', () => {
    const attempt = () => new SplitserveStack(new App({ context }), 'NoVpc', { config: parseConfig(privatePools), configSource: 'deploy.json' });
    expect(attempt).toThrow(/deploy\.json: pool "trn-prefill" endpoint http:\/\/10\.0\.1\.5:8000, .*pool "gpu" endpoint http:\/\/gpu\.pools\.internal:9000 are at private addresses/);
    expect(attempt).toThrow(/Add a "vpc" block/);
  });

  it('fails for IPv6 unique local, loopback and .localhost pools too', () => {
    for (const url of ['http://[fd12:3456::1]:8000', 'http://127.0.0.1:8000', 'http://vllm.localhost:8000', 'http://192.168.4.2', 'http://172.20.0.9']) {
      const config = { ...privatePools, pools: { ...privatePools.pools, gpu: { protocol: 'openai', endpoints: [url] } } };
      const publicOthers = { ...config, pools: { ...config.pools, 'trn-prefill': { ...config.pools['trn-prefill'], endpoints: ['https://a.example.com'] }, 'cs3-decode': { ...config.pools['cs3-decode'], endpoints: ['https://b.example.com'] } } };
      expect(() => new SplitserveStack(new App({ context }), 'NoVpc', { config: parseConfig(publicOthers) }), url).toThrow(/pool "gpu" endpoint .* is at a private address/);
    }
  });

  it('synthesizes for the local runtime without a VPC: vpc ignored, private pools allowed', () => {
    const local = synth('PrivatePoolsLocal', { ...privatePools, vpc: existingVpc }, { local: true });
    expect(ofType(local, 'AWS::EC2::SecurityGroup')).toEqual([]);
    expect(ofType(local, 'AWS::EC2::VPCEndpoint')).toEqual([]);
    for (const [handler, fn] of Object.entries(splitserveFunctions(local))) expect(fn.VpcConfig, handler).toBeUndefined();
  });

  it('the created VPC refuses public pools when it has no NAT gateway', () => {
    const config = { ...createdWithBedrock, pools: { ...createdWithBedrock.pools, gpu: { protocol: 'openai', endpoints: ['https://api.example.com'] } } };
    expect(() => synth('PublicNoNat', config)).toThrow(/no NAT gateway, so the functions cannot reach pools at public addresses \(gpu: https:\/\/api\.example\.com\)/);
  });
});

describe('an existing VPC', () => {
  it('runs every function in the configured subnets, with its own groups and the configured one', () => {
    const fns = splitserveFunctions(existing);
    expect(Object.keys(fns).sort()).toEqual(['decode', 'fallback', 'handler', 'meter', 'prefill', 'sweep']);
    const pools = groupId(existing, 'NetworkPoolClients');
    const aws = groupId(existing, 'NetworkAwsApiClients');
    const dynamo = groupId(existing, 'NetworkDynamoDbClients');
    const expected: Record<string, string[]> = {
      handler: [pools, aws, dynamo],
      prefill: [pools, aws],
      decode: [pools, aws],
      fallback: [pools, aws],
      meter: [dynamo],
      sweep: [dynamo],
    };
    for (const [handler, fn] of Object.entries(fns)) {
      expect(fn.VpcConfig.SubnetIds, handler).toEqual(existingVpc.subnetIds);
      expect(groupsOf(fn), handler).toEqual([...expected[handler]!, ...existingVpc.securityGroupIds]);
    }
  });

  it('lets the pool clients reach each pool endpoint on its port only, IP addresses as /32', () => {
    const [, pools] = ofType(existing, 'AWS::EC2::SecurityGroup').find(([id]) => id.startsWith('NetworkPoolClients'))!;
    const egress = (pools.Properties!.SecurityGroupEgress as Array<Record<string, unknown>>).map((r) => [r.CidrIp, r.IpProtocol, r.FromPort, r.ToPort]);
    expect(egress).toEqual([
      ['10.0.1.5/32', 'tcp', 8000, 8000],
      ['10.0.1.6/32', 'tcp', 8000, 8000],
      ['10.0.2.5/32', 'tcp', 8100, 8100],
      ['0.0.0.0/0', 'tcp', 9000, 9000], // a host name: any address, its port only
    ]);
    expect(pools.Properties!.SecurityGroupIngress).toBeUndefined();
  });

  it('creates the DynamoDB gateway endpoint in the route tables and a Step Functions sync endpoint reachable only from the functions', () => {
    const endpoints = ofType(existing, 'AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties!);
    const gateway = endpoints.find((e) => e.VpcEndpointType === 'Gateway')!;
    expect(JSON.stringify(gateway.ServiceName)).toContain('.dynamodb');
    expect(gateway.RouteTableIds).toEqual(existingVpc.routeTableIds);
    expect(gateway.VpcId).toBe(existingVpc.vpcId);
    const interfaces = endpoints.filter((e) => e.VpcEndpointType === 'Interface');
    expect(interfaces.map((e) => JSON.stringify(e.ServiceName).match(/\.([a-z-]+)"\]\]\}$/)?.[1])).toEqual(['sync-states']);
    for (const e of interfaces) {
      expect(e.PrivateDnsEnabled).toBe(true);
      expect(e.SubnetIds).toEqual(existingVpc.subnetIds);
    }
    const endpointsGroup = groupId(existing, 'NetworkEndpoints');
    const aws = groupId(existing, 'NetworkAwsApiClients');
    existing.template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [endpointsGroup, 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [aws, 'GroupId'] },
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
    });
    existing.template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [aws, 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [endpointsGroup, 'GroupId'] },
      FromPort: 443,
      ToPort: 443,
    });
  });

  it('lets DynamoDB clients reach only the DynamoDB prefix list, looked up at deploy time', () => {
    const dynamo = groupId(existing, 'NetworkDynamoDbClients');
    const egress = egressOf(existing, dynamo);
    expect(egress).toHaveLength(1);
    expect(egress[0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443 });
    expect(JSON.stringify(egress[0]!.DestinationPrefixListId)).toContain('PrefixLists.0.PrefixListId');
    const [, lookup] = ofType(existing, 'Custom::AWS')[0]!;
    expect(JSON.stringify(lookup.Properties!.Update)).toContain('describeManagedPrefixLists');
  });

  it('has no security group open to the world but for pools at host names, and none with inbound rules but the endpoints', () => {
    for (const [id, g] of ofType(existing, 'AWS::EC2::SecurityGroup')) {
      const rules = egressOf(existing, id);
      expect(rules.length, id).toBeGreaterThan(0);
      for (const rule of rules) {
        if (rule.CidrIp === '0.0.0.0/0') expect([id, rule.FromPort]).toEqual([expect.stringMatching(/^NetworkPoolClients/), 9000]);
        // CDK's marker for a group without egress (the endpoints' group): a rule matching nothing.
        if (rule.CidrIp === '255.255.255.255/32') expect([id, rule.Description]).toEqual([expect.stringMatching(/^NetworkEndpoints/), 'Disallow all traffic']);
        else expect(rule.IpProtocol, id).toBe('tcp');
      }
      expect(g.Properties!.SecurityGroupIngress, id).toBeUndefined();
    }
    expect(ofType(existing, 'AWS::EC2::SecurityGroupIngress')).toHaveLength(1);
  });

  it('keeps the vpc and alarms blocks out of the functions\' environment', () => {
    for (const [handler, fn] of Object.entries(splitserveFunctions(existing))) {
      const json = fn.Environment.Variables[FUNCTION_ENV.config];
      if (json === undefined) continue; // the sweep reads no config
      const deployed = JSON.parse(json);
      expect(deployed, handler).not.toHaveProperty('vpc');
      expect(deployed, handler).not.toHaveProperty('alarms');
      expect(deployed.pools, handler).toEqual(parseConfig(privatePools).pools);
    }
  });

  it('outputs the VPC and the pool clients\' security group', () => {
    existing.template.hasOutput(OPTIONAL_STACK_OUTPUTS.vpcId, { Value: existingVpc.vpcId });
    existing.template.hasOutput(OPTIONAL_STACK_OUTPUTS.poolClientsSecurityGroupId, {});
  });

  it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks().validateScope(existing.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('cdk-nag acknowledgements', () => {
  it('each give a reason, the VPC\'s and the prefix-list lookup\'s included', () => {
    for (const s of [existing, created]) {
      const acks: Array<[string, string]> = [];
      for (const c of s.stack.node.findAll()) {
        for (const m of c.node.metadata) {
          if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) acks.push(...Object.entries(m.data as Record<string, string>));
        }
      }
      const ids = acks.map(([id]) => id);
      expect(ids).toContain('Annotation::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]');
      expect(ids).toContain('Annotation::AwsSolutions-IAM5[Resource::*]');
      for (const [id, reason] of acks) expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});

describe('a created VPC', () => {
  it('has private isolated subnets only, no NAT, no internet gateway, and logs rejected flows', () => {
    expect(ofType(created, 'AWS::EC2::VPC')).toHaveLength(1);
    expect(ofType(created, 'AWS::EC2::NatGateway')).toEqual([]);
    expect(ofType(created, 'AWS::EC2::InternetGateway')).toEqual([]);
    const subnets = ofType(created, 'AWS::EC2::Subnet').map(([, r]) => r.Properties!);
    expect(subnets).toHaveLength(2);
    for (const s of subnets) expect(s.MapPublicIpOnLaunch).toBe(false);
    created.template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.64.0.0/16' });
    created.template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
    const fns = splitserveFunctions(created);
    for (const [handler, fn] of Object.entries(fns)) expect(fn.VpcConfig.SubnetIds, handler).toHaveLength(2);
  });

  it('creates the DynamoDB gateway endpoint and the Step Functions sync and Bedrock runtime interface endpoints', () => {
    const endpoints = ofType(created, 'AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties!);
    expect(endpoints.filter((e) => e.VpcEndpointType === 'Gateway')).toHaveLength(1);
    expect(endpoints.find((e) => e.VpcEndpointType === 'Gateway')!.RouteTableIds).toHaveLength(2);
    const services = endpoints.filter((e) => e.VpcEndpointType === 'Interface').map((e) => JSON.stringify(e.ServiceName).match(/\.([a-z-]+)"\]\]\}$/)?.[1]);
    expect(services.sort()).toEqual(['bedrock-runtime', 'sync-states']);
  });

  it('adds the Secrets Manager and SSM endpoints when a pool reads its credential from them', () => {
    const withCredentials = {
      ...createdWithBedrock,
      pools: {
        ...createdWithBedrock.pools,
        'trn-prefill': { ...privatePools.pools['trn-prefill'], auth: { secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/vllm-AbCdEf' } },
        gpu: { ...privatePools.pools.gpu, auth: { parameter: '/splitserve/gpu-key' } },
      },
    };
    const s = synth('CreatedWithCredentials', withCredentials);
    const services = ofType(s, 'AWS::EC2::VPCEndpoint').map(([, r]) => r.Properties!).filter((e) => e.VpcEndpointType === 'Interface').map((e) => JSON.stringify(e.ServiceName).match(/\.([a-z-]+)"\]\]\}$/)?.[1]);
    expect(services.sort()).toEqual(['bedrock-runtime', 'secretsmanager', 'ssm', 'sync-states']);
  });

  it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks().validateScope(created.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('a created VPC with a NAT gateway', () => {
  it('reaches a public pool through it: private subnets with egress, one NAT, the pool\'s port only, cdk-nag clean', () => {
    const config = { ...createdWithBedrock, vpc: { create: true, natGateways: 1 }, pools: { ...createdWithBedrock.pools, gpu: { protocol: 'openai', endpoints: ['https://api.example.com'] } } };
    const s = synth('PublicWithNat', config);
    expect(ofType(s, 'AWS::EC2::NatGateway')).toHaveLength(1);
    const fn = splitserveFunctions(s).handler!;
    const functionSubnets = JSON.stringify(fn.VpcConfig.SubnetIds);
    expect(functionSubnets).toContain('Functions');
    expect(functionSubnets).not.toContain('Public');
    const egress = egressOf(s, groupId(s, 'NetworkPoolClients')).map((r) => [r.CidrIp, r.FromPort]);
    expect(egress).toContainEqual(['0.0.0.0/0', 443]);
    expect(egress.filter(([cidr]) => cidr === '0.0.0.0/0')).toEqual([['0.0.0.0/0', 443]]);
    const report = new AwsSolutionsChecks().validateScope(s.stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('examples/deploy.config.json', () => {
  it('has private pools and a vpc, and synthesizes', () => {
    expect(example.vpc).toBeDefined();
    const s = synth('Example', example);
    for (const [handler, fn] of Object.entries(splitserveFunctions(s))) expect(fn.VpcConfig, handler).toBeDefined();
  });
});
