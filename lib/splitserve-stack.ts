/**
 * The splitserve stack: tables, plan task functions, the orchestration state machine, the gateway
 * function, the REST API and the scheduled open-request sweep, wired with least-privilege grants;
 * the functions' VPC when the config names one (lib/network.ts); the dashboard and alarms. Pools
 * and tiers come from the config given at synth time; tenants and API keys never enter the template.
 */
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { SplitserveAlarms } from './alarms.ts';
import { GatewayApi, type GatewayApiProps } from './api.ts';
import { grantBedrockInvoke } from './bedrock-access.ts';
import { serializeDeployConfig, simulatedPools, toDeployConfig } from './deploy-config.ts';
import { OperationsDashboard } from './dashboard.ts';
import { GatewayFunction } from './gateway-function.ts';
import { PoolNetwork } from './network.ts';
import { OpenRequestSweep } from './open-request-sweep.ts';
import { Orchestration } from './orchestration.ts';
import { PlanTaskFunctions } from './plan-task-functions.ts';
import { assertPoolsReachable } from './private-addresses.ts';
import { TRACE_CALLS_CONTEXT } from './splitserve-function.ts';
import { Tables, type TablesProps } from './tables.ts';
import { assertCredentialsInRegion, assertDeployableCredentials, grantUpstreamCredentials } from './upstream-credentials.ts';
import { assertDeployableWorkerSecret, grantWorkerRegistration, registrationPools } from './worker-registration.ts';

/** Logical IDs of the stack outputs (the local runtime and scripts read them by these names). */
export const STACK_OUTPUTS = {
  apiUrl: 'ApiUrl',
  configTableName: 'ConfigTableName',
  usageTableName: 'UsageTableName',
  stateMachineArn: 'StateMachineArn',
  dashboardName: 'DashboardName',
} as const;

/** Logical IDs of the outputs a config may add: the alarm topic (`alarms`), the VPC and pool clients' group (`vpc`). */
export const OPTIONAL_STACK_OUTPUTS = {
  alarmTopicArn: 'AlarmTopicArn',
  vpcId: 'VpcId',
  poolClientsSecurityGroupId: 'PoolClientsSecurityGroupId',
} as const;

/** Properties of {@link SplitserveStack}. */
export interface SplitserveStackProps extends StackProps {
  /**
   * The validated configuration (`parseConfig`). Its `tenants` must be empty: a deploy rejects
   * tenants (they and their keys would be written into the template).
   */
  readonly config: SplitserveConfig;
  /**
   * Where the config came from, for error messages.
   * @default 'config'
   */
  readonly configSource?: string;
  /**
   * Table options (removal policies).
   * @default - Config retained, Usage destroyed (see TablesProps)
   */
  readonly tables?: TablesProps;
  /**
   * API options other than the handler (stage name, throttling, integration timeout).
   * @default - see GatewayApiProps
   */
  readonly api?: Omit<GatewayApiProps, 'handler'>;
  /**
   * Entry of the gateway's streaming handler.
   * @default GATEWAY_ENTRY (lambda/handlers/gateway-stream.ts)
   */
  readonly gatewayEntry?: string;
  /**
   * Entry of the plan's step handlers.
   * @default STEP_TASKS_ENTRY (lambda/handlers/step-tasks.ts)
   */
  readonly stepTasksEntry?: string;
  /**
   * Synthesize for the local runtime (`npm start`), which executes the template on this machine:
   * the config's `vpc` is left out (no VPC, endpoints or security groups), pools at private
   * addresses are allowed (local pools are loopback servers), and so are credentials named
   * `auth: { env }`, which the local runtime reads from its own process (a deploy refuses them:
   * the value would be in the template in clear).
   * @default false
   */
  readonly local?: boolean;
}

/**
 * One splitserve deployment.
 *
 * @example
 * new SplitserveStack(app, 'Splitserve', { config: parseConfig(JSON.parse(text)) });
 */
export class SplitserveStack extends Stack {
  /** Base URL of the API stage (clients use `${apiUrl}v1`). */
  public readonly apiUrl: string;
  /** Name of the Config table. */
  public readonly configTableName: string;
  /** Name of the Usage table. */
  public readonly usageTableName: string;
  /** ARN of the orchestration state machine. */
  public readonly stateMachineArn: string;

  constructor(scope: Construct, id: string, props: SplitserveStackProps) {
    super(scope, id, props);
    const config = toDeployConfig(props.config, props.configSource);
    if (props.local !== true) {
      assertDeployableCredentials(config, props.configSource);
      assertDeployableWorkerSecret(config, props.configSource);
      assertCredentialsInRegion(this, config, props.configSource);
    }
    const configJson = serializeDeployConfig(config);
    const simulated = simulatedPools(config);
    if (simulated.length > 0) {
      Annotations.of(this).addWarningV2(
        'splitserve:simulatedPools',
        `pools ${simulated.join(', ')} use "simulate", which only exists in local runs: deployed, they have no backend`,
      );
    }

    const local = props.local ?? false;
    if (!local) assertPoolsReachable(config, props.configSource ?? 'config');
    const network =
      !local && config.vpc !== undefined
        ? new PoolNetwork(this, 'Network', { config, traceCalls: String(this.node.tryGetContext(TRACE_CALLS_CONTEXT) ?? 'false') === 'true' })
        : undefined;
    const withNetwork = network ? { network } : {};

    const tables = new Tables(this, 'Tables', props.tables);
    const tasks = new PlanTaskFunctions(this, 'PlanTasks', {
      ...withNetwork,
      configJson,
      configTable: tables.config,
      usageTable: tables.usage,
      discovers: registrationPools(config).length > 0,
      ...(props.stepTasksEntry !== undefined ? { entry: props.stepTasksEntry } : {}),
    });
    const orchestration = new Orchestration(this, 'Orchestration', { tasks: tasks.functions });
    const gateway = new GatewayFunction(this, 'Gateway', {
      ...withNetwork,
      configJson,
      configTable: tables.config,
      usageTable: tables.usage,
      stateMachine: orchestration.stateMachine,
      ...(props.gatewayEntry !== undefined ? { entry: props.gatewayEntry } : {}),
    });
    grantBedrockInvoke(config, [gateway.function, ...tasks.bedrockCallers]);
    grantUpstreamCredentials(this, config, [gateway.function, ...tasks.poolCallers]);
    grantWorkerRegistration(this, config, { configTable: tables.config, gateway: gateway.function, discoverers: tasks.poolCallers });
    const workerRoutes = registrationPools(config).length > 0 && config.workers !== undefined;
    const api = new GatewayApi(this, 'Api', { ...props.api, handler: gateway.function, ...(workerRoutes ? { workerRoutes } : {}) });
    // Bills what a gateway environment that died while serving left open (lambda/store/open-requests.ts).
    new OpenRequestSweep(this, 'OpenRequestSweep', { usageTable: tables.usage, ...withNetwork });
    const alarms = new SplitserveAlarms(this, 'Alarms', { config });
    const dashboard = new OperationsDashboard(this, 'Dashboard', {
      config,
      functions: { gateway: gateway.function, ...tasks.functions },
      stateMachine: orchestration.stateMachine,
      alarms: alarms.alarms,
    });

    this.apiUrl = api.url;
    this.configTableName = tables.config.tableName;
    this.usageTableName = tables.usage.tableName;
    this.stateMachineArn = orchestration.stateMachine.stateMachineArn;
    new CfnOutput(this, STACK_OUTPUTS.apiUrl, { value: this.apiUrl, description: 'API base URL (OpenAI base URL: append v1)' });
    new CfnOutput(this, STACK_OUTPUTS.configTableName, { value: this.configTableName, description: 'Config table (tenants, key hashes)' });
    new CfnOutput(this, STACK_OUTPUTS.usageTableName, { value: this.usageTableName, description: 'Usage table (windows, metering)' });
    new CfnOutput(this, STACK_OUTPUTS.stateMachineArn, { value: this.stateMachineArn, description: 'Plan state machine (Express)' });
    new CfnOutput(this, STACK_OUTPUTS.dashboardName, { value: dashboard.dashboard.dashboardName, description: 'CloudWatch dashboard' });
    if (network) {
      new CfnOutput(this, OPTIONAL_STACK_OUTPUTS.vpcId, { value: network.vpc.vpcId, description: 'VPC the functions run in' });
      new CfnOutput(this, OPTIONAL_STACK_OUTPUTS.poolClientsSecurityGroupId, {
        value: network.poolClients.securityGroupId,
        description: 'Security group of the functions that call the pools: admit it on the pools\' ports',
      });
    }
    if (alarms.topic) new CfnOutput(this, OPTIONAL_STACK_OUTPUTS.alarmTopicArn, { value: alarms.topic.topicArn, description: 'SNS topic of the alarms' });

  }
}
