/**
 * The gateway function behind every API route: authenticates, classifies, admits, then streams the
 * plan in-process or runs it on the state machine (docs/architecture.md).
 */
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TABLE_ENV } from '../lambda/store/table-schema.ts';
import { FUNCTION_ENV } from './deploy-config.ts';
import type { PoolNetwork } from './network.ts';
import { SplitserveFunction } from './splitserve-function.ts';

/** Absolute path of the gateway's streaming handler. */
export const GATEWAY_ENTRY = fileURLToPath(new URL('../lambda/handlers/gateway-stream.ts', import.meta.url));

/** Properties of {@link GatewayFunction}. */
export interface GatewayFunctionProps {
  /** The deploy config serialised for `SPLITSERVE_CONFIG` (see serializeDeployConfig). */
  readonly configJson: string;
  /** Config table: read (key hashes, tenants, limits). */
  readonly configTable: ITable;
  /** Usage table: read and written (window reads, admission's conditional updates, metering). */
  readonly usageTable: ITable;
  /** The plan's state machine, started synchronously for non-streamed requests. */
  readonly stateMachine: IStateMachine;
  /**
   * Entry file exporting `handler` (wrapped in `awslambda.streamifyResponse`).
   * @default GATEWAY_ENTRY
   */
  readonly entry?: string;
  /**
   * Function timeout: the longest a streamed answer may take. API Gateway streams for up to 15
   * minutes; a Regional endpoint's idle timeout is 5 minutes.
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
  /**
   * Memory in MB. 1769 MB is one full vCPU: the relay is CPU-bound per request (docs/benchmarks.md).
   * @default 1769
   */
  readonly memorySize?: number;
  /**
   * The VPC to run in (config `vpc`).
   * @default - no VPC
   */
  readonly network?: PoolNetwork;
}

/**
 * The gateway's Lambda function, with its environment (config without tenants, table names, state
 * machine ARN; never API keys) and its grants: read Config, read/write Usage (the window counter
 * reads a window with GetItem besides its conditional updates), StartSyncExecution.
 */
export class GatewayFunction extends Construct {
  /** The function. */
  public readonly function: IFunction;

  constructor(scope: Construct, id: string, props: GatewayFunctionProps) {
    super(scope, id);
    const fn = new SplitserveFunction(this, 'Function', {
      entry: props.entry ?? GATEWAY_ENTRY,
      handler: 'handler',
      description: 'splitserve gateway: OpenAI-compatible API, auth, admission, routing (response streaming)',
      serviceName: 'splitserve-gateway',
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: props.memorySize ?? 1769,
      // Calls the pools, DynamoDB, Step Functions (and Bedrock, Secrets Manager or SSM when configured).
      ...(props.network ? { network: props.network.placement({ pools: true, awsApis: true, dynamoDb: true }) } : {}),
      environment: {
        [FUNCTION_ENV.config]: props.configJson,
        [FUNCTION_ENV.stateMachineArn]: props.stateMachine.stateMachineArn,
        [TABLE_ENV.config]: props.configTable.tableName,
        [TABLE_ENV.usage]: props.usageTable.tableName,
      },
    });
    props.configTable.grantReadData(fn);
    props.usageTable.grantReadWriteData(fn);
    props.stateMachine.grantStartSyncExecution(fn);
    this.function = fn;
  }
}
