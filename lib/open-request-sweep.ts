/**
 * The scheduled sweep of open requests (lambda/store/open-requests.ts): an EventBridge rule runs a
 * small function every few minutes that bills, as `interrupted` usage records, the requests of
 * gateway environments that died while serving them. Least privilege: the function may only
 * query, batch-write, delete and update items of the Usage table.
 */
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { TABLE_ENV } from '../lambda/store/table-schema.ts';
import type { PoolNetwork } from './network.ts';
import { SplitserveFunction } from './splitserve-function.ts';

/** Entry of the sweep's handler. */
export const SWEEP_ENTRY = fileURLToPath(new URL('../lambda/handlers/sweep-open-requests.ts', import.meta.url));

/** The DynamoDB actions a sweep makes on the Usage table, and no other. */
export const SWEEP_TABLE_ACTIONS = ['dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'] as const;

/** Properties of {@link OpenRequestSweep}. */
export interface OpenRequestSweepProps {
  readonly usageTable: ITable;
  /**
   * How often it runs. A killed environment's requests are billed this long after their deadline
   * (16 minutes after their start) at most.
   * @default Duration.minutes(5)
   */
  readonly every?: Duration;
  /**
   * Entry of the handler.
   * @default SWEEP_ENTRY
   */
  readonly entry?: string;
  /**
   * The VPC to run in (config `vpc`).
   * @default - no VPC
   */
  readonly network?: PoolNetwork;
}

/**
 * The sweep function and its schedule.
 *
 * @example
 * new OpenRequestSweep(this, 'OpenRequestSweep', { usageTable: tables.usage });
 */
export class OpenRequestSweep extends Construct {
  readonly function: SplitserveFunction;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: OpenRequestSweepProps) {
    super(scope, id);
    this.function = new SplitserveFunction(this, 'Function', {
      entry: props.entry ?? SWEEP_ENTRY,
      handler: 'sweep',
      description: 'Bills the open requests of gateway environments that died while serving them',
      serviceName: 'splitserve-sweep',
      environment: { [TABLE_ENV.usage]: props.usageTable.tableName },
      memorySize: 256,
      timeout: Duration.minutes(5),
      ...(props.network ? { network: props.network.placement({ dynamoDb: true }) } : {}),
    });
    props.usageTable.grant(this.function, ...SWEEP_TABLE_ACTIONS);
    this.rule = new Rule(this, 'Schedule', {
      description: 'Runs the open-request sweep',
      schedule: Schedule.rate(props.every ?? Duration.minutes(5)),
    });
    this.rule.addTarget(new LambdaFunction(this.function, { retryAttempts: 2 }));
  }
}
