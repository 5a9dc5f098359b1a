/**
 * Where the functions run when the config names a `vpc` (docs/deploy.md, "Private pools"): an
 * existing VPC or one created here, the VPC endpoints that replace a NAT for the AWS APIs the
 * functions call, and security groups that allow only the traffic each function needs. Nothing
 * is open inbound: Lambda functions receive no connections.
 *
 * Security groups, one per job, attached by need:
 * - `PoolClients`: TCP to each pool endpoint's port, to that address alone (`/32`, `/128`) when
 *   the endpoint is an IP address; to any address on that port when it is a host name (a security
 *   group cannot follow DNS). Gateway, prefill, decode, fallback.
 * - `AwsApiClients`: HTTPS to the stack's interface endpoints, and to any address on 443 for a
 *   needed AWS API the stack creates no endpoint for (reached through the VPC's own endpoint or
 *   NAT). Gateway, prefill, decode, fallback.
 * - `DynamoDbClients`: HTTPS to DynamoDB's managed prefix list (the addresses the gateway endpoint
 *   routes), looked up at deploy time. Gateway, meter, sweep.
 * IAM, not the network, decides which API a function may call on an endpoint it can reach.
 */
import { isIP } from 'node:net';
import { Aws, Annotations, Stack, Validations } from 'aws-cdk-lib';
import {
  CfnVPCEndpoint,
  FlowLogDestination,
  FlowLogTrafficType,
  GatewayVpcEndpointAwsService,
  InterfaceVpcEndpointAwsService,
  IpAddresses,
  Peer,
  Port,
  SecurityGroup,
  Subnet,
  SubnetType,
  Vpc,
  type ISecurityGroup,
  type ISubnet,
  type IVpc,
  type SubnetSelection,
} from 'aws-cdk-lib/aws-ec2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { VpcEndpointService, VpcOptions } from './deploy-options.ts';
import { ConfigError } from '../lambda/core/errors.ts';
import type { DeployConfig } from './deploy-config.ts';
import { isPrivateHost, poolEndpoints } from './private-addresses.ts';

/** Where one function runs: the props a Lambda function takes for a VPC. */
export interface FunctionNetwork {
  readonly vpc: IVpc;
  readonly vpcSubnets: SubnetSelection;
  readonly securityGroups: ISecurityGroup[];
}

/** What a function talks to, which decides its security groups. */
export interface NetworkNeeds {
  /** Calls the pools' endpoints. */
  readonly pools?: boolean;
  /** Calls AWS APIs other than DynamoDB (Step Functions, Bedrock, Secrets Manager, SSM...). */
  readonly awsApis?: boolean;
  /** Reads or writes DynamoDB. */
  readonly dynamoDb?: boolean;
}

/** The interface endpoint service of each {@link VpcEndpointService} but `dynamodb` (a gateway endpoint). */
const INTERFACE_SERVICES: Readonly<Record<Exclude<VpcEndpointService, 'dynamodb'>, InterfaceVpcEndpointAwsService>> = {
  'sync-states': InterfaceVpcEndpointAwsService.STEP_FUNCTIONS_SYNC,
  'bedrock-runtime': InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
  secretsmanager: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
  ssm: InterfaceVpcEndpointAwsService.SSM,
  logs: InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
  monitoring: InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
  xray: InterfaceVpcEndpointAwsService.XRAY,
};

/**
 * The AWS APIs the functions call for this config, besides DynamoDB: Step Functions'
 * StartSyncExecution (`sync-states`) always, Bedrock with a Bedrock pool, Secrets Manager and SSM
 * when a pool's credential is read from them (`auth.secretArn`, `auth.parameter`), X-Ray when call
 * subsegments are on (`traceCalls`). Logs and EMF metrics need no endpoint: Lambda ships a
 * function's output itself, outside the VPC.
 */
export function neededAwsApis(config: DeployConfig, traceCalls: boolean): VpcEndpointService[] {
  const needed: VpcEndpointService[] = ['sync-states'];
  if (Object.values(config.pools).some((p) => p.protocol === 'bedrock' && p.endpoints === undefined)) needed.push('bedrock-runtime');
  const auths = [...Object.values(config.pools).map((p) => p.auth), config.workers?.secret];
  if (auths.some((a) => a?.secretArn !== undefined)) needed.push('secretsmanager');
  if (auths.some((a) => a?.parameter !== undefined)) needed.push('ssm');
  if (traceCalls) needed.push('xray');
  return needed;
}

/**
 * The endpoints created for a `vpc` block: its `endpoints`, or by default DynamoDB's gateway
 * endpoint and the {@link neededAwsApis}.
 */
export function endpointsToCreate(config: DeployConfig, vpc: VpcOptions, traceCalls: boolean): VpcEndpointService[] {
  return vpc.endpoints ?? ['dynamodb', ...neededAwsApis(config, traceCalls)];
}

/** A TCP port of a pool endpoint URL (its explicit port, else 443 for https, 80 for http). */
function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** Properties of {@link PoolNetwork}. */
export interface PoolNetworkProps {
  /** The deploy config; its `vpc` must be set. */
  readonly config: DeployConfig;
  /**
   * Whether call subsegments are traced (`-c traceCalls=true`): the functions then call X-Ray.
   * @default false
   */
  readonly traceCalls?: boolean;
}

/**
 * The functions' network: VPC, subnets, endpoints and security groups.
 *
 * @example
 * const network = new PoolNetwork(this, 'Network', { config });
 * new SplitserveFunction(this, 'Fn', { ..., network: network.placement({ pools: true, awsApis: true }) });
 */
export class PoolNetwork extends Construct {
  /** The VPC the functions run in. */
  public readonly vpc: IVpc;
  /** The subnets the functions get their network interfaces in. */
  public readonly subnets: readonly ISubnet[];
  /** Egress to the pools' endpoints. */
  public readonly poolClients: SecurityGroup;
  /** Egress to the AWS APIs' interface endpoints (and to 443 where the stack creates none). */
  public readonly awsApiClients: SecurityGroup;
  /** Egress to DynamoDB's prefix list. */
  public readonly dynamoDbClients: SecurityGroup;
  /** The interface endpoints' group: HTTPS in from {@link awsApiClients} only. Absent when none is created. */
  public readonly endpointsGroup: SecurityGroup | undefined;
  /** The security groups of the config's `securityGroupIds`, added to every function. */
  public readonly extraGroups: readonly ISecurityGroup[];

  constructor(scope: Construct, id: string, props: PoolNetworkProps) {
    super(scope, id);
    const { config } = props;
    const options = config.vpc;
    if (options === undefined) throw new ConfigError('PoolNetwork needs a config with "vpc"');
    const traceCalls = props.traceCalls ?? false;

    let routeTableIds: readonly string[] | undefined;
    if (options.create === true) {
      const withNat = options.natGateways > 0;
      const vpc = new Vpc(this, 'Vpc', {
        ipAddresses: IpAddresses.cidr(options.cidr),
        maxAzs: options.maxAzs,
        natGateways: options.natGateways,
        subnetConfiguration: withNat
          ? [
              { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
              { name: 'Functions', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
            ]
          : [{ name: 'Functions', subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 20 }],
      });
      // Rejected flows only: what a too-narrow security group refused, at a fraction of all traffic's cost.
      vpc.addFlowLog('RejectedFlows', {
        trafficType: FlowLogTrafficType.REJECT,
        destination: FlowLogDestination.toCloudWatchLogs(new LogGroup(this, 'RejectedFlowsLogs', { retention: RetentionDays.ONE_MONTH })),
      });
      this.vpc = vpc;
      this.subnets = vpc.selectSubnets({ subnetType: withNat ? SubnetType.PRIVATE_WITH_EGRESS : SubnetType.PRIVATE_ISOLATED }).subnets;
      routeTableIds = this.subnets.map((s) => s.routeTable.routeTableId);
      const publicPools = poolEndpoints(config).filter(({ url }) => !isPrivateHost(new URL(url).hostname));
      if (!withNat && publicPools.length > 0) {
        throw new ConfigError(
          `vpc: the created VPC has no NAT gateway, so the functions cannot reach pools at public addresses (${publicPools.map((e) => `${e.pool}: ${e.url}`).join(', ')}). ` +
            'Set "vpc.natGateways" to 1 or more, or serve those pools from private addresses.',
        );
      }
    } else {
      // Only the id is rendered: the functions and endpoints name their subnets themselves.
      this.vpc = Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: options.vpcId, availabilityZones: Stack.of(this).availabilityZones });
      this.subnets = options.subnetIds.map((subnetId) => {
        const subnet = Subnet.fromSubnetId(this, subnetId, subnetId);
        Annotations.of(subnet).acknowledgeWarning('@aws-cdk/aws-ec2:noSubnetRouteTableId', 'route tables come from "vpc.routeTableIds", used by the DynamoDB gateway endpoint only');
        return subnet;
      });
      routeTableIds = options.routeTableIds;
      if (poolEndpoints(config).some(({ url }) => !isPrivateHost(new URL(url).hostname))) {
        Annotations.of(this).addWarningV2(
          'splitserve:publicPoolsFromVpc',
          'some pools have public addresses: the subnets in "vpc.subnetIds" need a route to the internet (a NAT gateway) to reach them',
        );
      }
    }

    const group = (name: string, description: string) => new SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: false });
    this.poolClients = group('PoolClients', 'splitserve functions that call the pools: egress to the pool endpoints only');
    this.awsApiClients = group('AwsApiClients', 'splitserve functions that call AWS APIs: HTTPS to the VPC endpoints');
    this.dynamoDbClients = group('DynamoDbClients', 'splitserve functions that use DynamoDB: HTTPS to the DynamoDB prefix list');
    this.extraGroups = options.create === true ? [] : options.securityGroupIds.map((sg) => SecurityGroup.fromSecurityGroupId(this, sg, sg, { mutable: false }));

    for (const { pool, url } of poolEndpoints(config)) {
      const parsed = new URL(url);
      const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
      const peer = /^[\d.]+$/.test(host) ? Peer.ipv4(`${host}/32`) : host.includes(':') ? Peer.ipv6(`${host}/128`) : Peer.anyIpv4();
      this.poolClients.addEgressRule(peer, Port.tcp(portOf(parsed)), `pool ${pool}`);
    }
    // Registered workers' addresses are known at run time only: their pools' CIDR blocks and
    // addresses in `registration.allowedHosts` are admitted, on any port (docs/worker-registration.md).
    for (const [pool, p] of Object.entries(config.pools)) {
      for (const entry of p.registration?.allowedHosts ?? []) {
        const [address, prefix] = entry.split('/');
        const family = isIP(address ?? '');
        if (family === 0) continue;
        const peer = family === 4 ? Peer.ipv4(`${address}/${prefix ?? 32}`) : Peer.ipv6(`${address}/${prefix ?? 128}`);
        this.poolClients.addEgressRule(peer, Port.allTcp(), `registered workers of pool ${pool}`);
      }
    }

    const endpoints = endpointsToCreate(config, options, traceCalls);
    const subnetIds = this.subnets.map((s) => s.subnetId);
    if (endpoints.includes('dynamodb')) {
      if (routeTableIds === undefined) throw new ConfigError('vpc.routeTableIds: needed for the DynamoDB gateway endpoint');
      new CfnVPCEndpoint(this, 'DynamoDbEndpoint', {
        vpcId: this.vpc.vpcId,
        serviceName: GatewayVpcEndpointAwsService.DYNAMODB.name,
        vpcEndpointType: 'Gateway',
        routeTableIds: [...new Set(routeTableIds)],
      });
    }
    const interfaces = endpoints.filter((s): s is Exclude<VpcEndpointService, 'dynamodb'> => s !== 'dynamodb');
    if (interfaces.length > 0) {
      const endpointsGroup = group('Endpoints', 'splitserve VPC interface endpoints: HTTPS from the splitserve functions only');
      endpointsGroup.addIngressRule(this.awsApiClients, Port.tcp(443), 'HTTPS from splitserve functions');
      this.awsApiClients.addEgressRule(endpointsGroup, Port.tcp(443), 'HTTPS to the VPC interface endpoints');
      for (const service of interfaces) {
        new CfnVPCEndpoint(this, `Endpoint-${service}`, {
          vpcId: this.vpc.vpcId,
          serviceName: INTERFACE_SERVICES[service].name,
          vpcEndpointType: 'Interface',
          privateDnsEnabled: true,
          subnetIds,
          securityGroupIds: [endpointsGroup.securityGroupId],
        });
      }
      this.endpointsGroup = endpointsGroup;
    }
    const uncovered = neededAwsApis(config, traceCalls).filter((s) => !endpoints.includes(s));
    if (uncovered.length > 0) {
      this.awsApiClients.addEgressRule(Peer.anyIpv4(), Port.tcp(443), `HTTPS to ${uncovered.join(', ')} through the VPC's own endpoints or NAT`);
    }

    // DynamoDB's addresses, as the managed prefix list the gateway endpoint routes (no CloudFormation attribute gives its id).
    const prefixList = new AwsCustomResource(this, 'DynamoDbPrefixList', {
      onUpdate: {
        service: 'EC2',
        action: 'describeManagedPrefixLists',
        parameters: { Filters: [{ Name: 'prefix-list-name', Values: [`com.amazonaws.${Aws.REGION}.dynamodb`] }] },
        physicalResourceId: PhysicalResourceId.of(`com.amazonaws.${Aws.REGION}.dynamodb`),
        outputPaths: ['PrefixLists.0.PrefixListId'],
      },
      policy: AwsCustomResourcePolicy.fromSdkCalls({ resources: AwsCustomResourcePolicy.ANY_RESOURCE }),
      installLatestAwsSdk: false,
    });
    Validations.of(prefixList).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeManagedPrefixLists has no resource-level permissions: it only reads the id of the AWS-managed DynamoDB prefix list.',
    });
    // The lookup's function is one per stack, created by AwsCustomResource beside the stack's other constructs.
    const provider = Stack.of(this).node.tryFindChild(`AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replace(/-/g, '')}`);
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'The prefix-list lookup\'s function (run at deploy time only) needs only to write its own logs, which AWSLambdaBasicExecutionRole allows and nothing more.',
      });
    }
    this.dynamoDbClients.addEgressRule(Peer.prefixList(prefixList.getResponseField('PrefixLists.0.PrefixListId')), Port.tcp(443), 'HTTPS to DynamoDB');
  }

  /**
   * The network props of a function with these needs: the VPC, its subnets, and the groups for
   * what it calls plus the config's `securityGroupIds`.
   *
   * @example
   * network.placement({ dynamoDb: true }) // the meter step: DynamoDB only
   */
  placement(needs: NetworkNeeds): FunctionNetwork {
    const securityGroups: ISecurityGroup[] = [];
    if (needs.pools) securityGroups.push(this.poolClients);
    if (needs.awsApis) securityGroups.push(this.awsApiClients);
    if (needs.dynamoDb) securityGroups.push(this.dynamoDbClients);
    securityGroups.push(...this.extraGroups);
    return { vpc: this.vpc, vpcSubnets: { subnets: [...this.subnets] }, securityGroups };
  }
}
