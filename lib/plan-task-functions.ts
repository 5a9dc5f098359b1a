/**
 * The Lambda functions behind the orchestration's task states: one per plan step, all from the
 * same entry (lambda/handlers/step-tasks.ts), the module the in-process executor also calls.
 */
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { TABLE_ENV } from '../lambda/store/table-schema.ts';
import { FUNCTION_ENV } from './deploy-config.ts';
import type { PoolNetwork } from './network.ts';
import { SplitserveFunction } from './splitserve-function.ts';

/** The plan's steps, each an export of the step-tasks entry of the same name. */
export const PLAN_TASKS = ['prefill', 'decode', 'fallback', 'meter'] as const;
/** One of {@link PLAN_TASKS}. */
export type PlanTask = (typeof PLAN_TASKS)[number];

/** Absolute path of the step-tasks entry. */
export const STEP_TASKS_ENTRY = fileURLToPath(new URL('../lambda/handlers/step-tasks.ts', import.meta.url));

/** Properties of {@link PlanTaskFunctions}. */
export interface PlanTaskFunctionsProps {
  /** The deploy config serialised for `SPLITSERVE_CONFIG` (see serializeDeployConfig). */
  readonly configJson: string;
  /** The Config table: only its name is passed (every step reads the same environment). */
  readonly configTable: ITable;
  /** The Usage table: the meter step writes it. */
  readonly usageTable: ITable;
  /**
   * Entry file exporting `prefill`, `decode`, `fallback` and `meter`.
   * @default STEP_TASKS_ENTRY
   */
  readonly entry?: string;
  /**
   * Timeout of the backend-calling steps (prefill, decode, fallback). Express executions end at
   * 5 minutes, so a longer value buys nothing.
   * @default Duration.minutes(4)
   */
  readonly backendTimeout?: Duration;
  /**
   * Memory of each function in MB.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * The VPC to run in (config `vpc`).
   * @default - no VPC
   */
  readonly network?: PoolNetwork;
  /** Some pool takes worker registrations: the backend steps read the Config table (discovery). @default false */
  readonly discovers?: boolean;
}

/**
 * Four functions, `prefill`, `decode`, `fallback` and `meter`. All get the same environment (the
 * config and both table names: the step module reads one environment), but only `meter` may touch
 * DynamoDB (write on Usage); the others only call backends (and Bedrock: decode and fallback, granted
 * by the stack when the config has a Bedrock pool; prefill only runs on disaggregated routes). The
 * four bundles are identical, so esbuild runs once and the cloud assembly holds one asset.
 */
export class PlanTaskFunctions extends Construct {
  /** The function of each step. */
  public readonly functions: Readonly<Record<PlanTask, IFunction>>;
  /** The steps that may call Bedrock (decode, and fallback which runs a whole route). */
  public readonly bedrockCallers: readonly IFunction[];
  /** The steps that call the pools' endpoints (prefill, decode, fallback; not meter). */
  public readonly poolCallers: readonly IFunction[];

  constructor(scope: Construct, id: string, props: PlanTaskFunctionsProps) {
    super(scope, id);
    const entry = props.entry ?? STEP_TASKS_ENTRY;
    const backendTimeout = props.backendTimeout ?? Duration.minutes(4);
    // The backend steps call pools and AWS APIs (Bedrock, credentials); meter only DynamoDB.
    const network = (task: PlanTask) =>
      props.network === undefined
        ? {}
        : { network: props.network.placement(task === 'meter' ? { dynamoDb: true } : { pools: true, awsApis: true, ...(props.discovers ? { dynamoDb: true } : {}) }) };
    const make = (task: PlanTask, description: string, timeout: Duration) =>
      new SplitserveFunction(this, task.charAt(0).toUpperCase() + task.slice(1), {
        entry,
        handler: task,
        description,
        timeout,
        serviceName: 'splitserve-plan',
        ...(props.memorySize !== undefined ? { memorySize: props.memorySize } : {}),
        ...network(task),
        environment: {
          [FUNCTION_ENV.config]: props.configJson,
          [TABLE_ENV.config]: props.configTable.tableName,
          [TABLE_ENV.usage]: props.usageTable.tableName,
        },
      });
    const prefill = make('prefill', 'splitserve plan step: prefill on the tier\'s prefill pool', backendTimeout);
    const decode = make('decode', 'splitserve plan step: decode (or the whole request on an aggregated/Bedrock route)', backendTimeout);
    const fallback = make('fallback', 'splitserve plan step: run the tier\'s fallback route after a failure', backendTimeout);
    const meter = make('meter', 'splitserve plan step: write the usage record', Duration.seconds(10));
    props.usageTable.grantWriteData(meter);
    this.functions = { prefill, decode, fallback, meter };
    this.bedrockCallers = [decode, fallback];
    this.poolCallers = [prefill, decode, fallback];
  }
}
