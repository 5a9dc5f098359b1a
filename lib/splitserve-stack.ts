/**
 * The splitserve stack: tables, plan task functions, the orchestration state machine, the gateway
 * function, the REST API and the scheduled open-request sweep, wired with least-privilege grants. Pools and tiers come from the
 * config given at synth time; tenants and API keys never enter the template.
 */
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { GatewayApi, type GatewayApiProps } from './api.ts';
import { grantBedrockInvoke } from './bedrock-access.ts';
import { serializeDeployConfig, simulatedPools, toDeployConfig } from './deploy-config.ts';
import { GatewayFunction } from './gateway-function.ts';
import { OpenRequestSweep } from './open-request-sweep.ts';
import { Orchestration } from './orchestration.ts';
import { PlanTaskFunctions } from './plan-task-functions.ts';
import { Tables, type TablesProps } from './tables.ts';
import { assertDeployableCredentials, grantUpstreamCredentials } from './upstream-credentials.ts';

/** Logical IDs of the stack outputs (the local runtime and scripts read them by these names). */
export const STACK_OUTPUTS = {
  apiUrl: 'ApiUrl',
  configTableName: 'ConfigTableName',
  usageTableName: 'UsageTableName',
  stateMachineArn: 'StateMachineArn',
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
   * Synthesized for the local runtime (`npm start`), which reads credentials named
   * `auth: { env }` from its own process; a deploy refuses them (the value would be in the
   * template in clear).
   * @default false
   */
  readonly localRuntime?: boolean;
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
    if (props.localRuntime !== true) assertDeployableCredentials(config, props.configSource);
    const configJson = serializeDeployConfig(config);
    const simulated = simulatedPools(config);
    if (simulated.length > 0) {
      Annotations.of(this).addWarningV2(
        'splitserve:simulatedPools',
        `pools ${simulated.join(', ')} use "simulate", which only exists in local runs: deployed, they have no backend`,
      );
    }

    const tables = new Tables(this, 'Tables', props.tables);
    const tasks = new PlanTaskFunctions(this, 'PlanTasks', {
      configJson,
      configTable: tables.config,
      usageTable: tables.usage,
      ...(props.stepTasksEntry !== undefined ? { entry: props.stepTasksEntry } : {}),
    });
    const orchestration = new Orchestration(this, 'Orchestration', { tasks: tasks.functions });
    const gateway = new GatewayFunction(this, 'Gateway', {
      configJson,
      configTable: tables.config,
      usageTable: tables.usage,
      stateMachine: orchestration.stateMachine,
      ...(props.gatewayEntry !== undefined ? { entry: props.gatewayEntry } : {}),
    });
    grantBedrockInvoke(config, [gateway.function, ...tasks.bedrockCallers]);
    grantUpstreamCredentials(this, config, [gateway.function, ...tasks.poolCallers]);
    const api = new GatewayApi(this, 'Api', { ...props.api, handler: gateway.function });
    // Bills what a gateway environment that died while serving left open (lambda/store/open-requests.ts).
    new OpenRequestSweep(this, 'OpenRequestSweep', { usageTable: tables.usage });

    this.apiUrl = api.url;
    this.configTableName = tables.config.tableName;
    this.usageTableName = tables.usage.tableName;
    this.stateMachineArn = orchestration.stateMachine.stateMachineArn;
    new CfnOutput(this, STACK_OUTPUTS.apiUrl, { value: this.apiUrl, description: 'API base URL (OpenAI base URL: append v1)' });
    new CfnOutput(this, STACK_OUTPUTS.configTableName, { value: this.configTableName, description: 'Config table (tenants, key hashes)' });
    new CfnOutput(this, STACK_OUTPUTS.usageTableName, { value: this.usageTableName, description: 'Usage table (windows, metering)' });
    new CfnOutput(this, STACK_OUTPUTS.stateMachineArn, { value: this.stateMachineArn, description: 'Plan state machine (Express)' });

  }
}
