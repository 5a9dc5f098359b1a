/**
 * The plan as a Step Functions Express state machine (docs/architecture.md), written with CDK's
 * typed states in JSONPath: the local executor (aws-local-stepfunctions) runs the same definition
 * and supports neither JSONata nor Variables/Assign.
 */
import { Duration, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Errors,
  Fail,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  QueryLanguage,
  StateMachine,
  StateMachineType,
  Succeed,
  Timeout,
  type IStateMachine,
  type RetryProps,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { PLAN_ERRORS, RETRYABLE_PLAN_ERRORS } from '../lambda/core/plan-errors.ts';
import { TASK_RETRY } from '../lambda/core/plan-policy.ts';
import type { PlanTask } from './plan-task-functions.ts';

/** Time limit of a plan execution (see the state machine below). */
export const EXECUTION_TIMEOUT = Duration.seconds(270);

/** State names of the definition (the local runtime and the tests refer to them). */
export const PLAN_STATES = {
  prefill: 'Prefill',
  hasKvTransferParams: 'HasKvTransferParams',
  recomputeNoted: 'RecomputeNoted',
  decode: 'Decode',
  fallback: 'Fallback',
  meter: 'Meter',
  meterDeferred: 'MeterDeferred',
  done: 'Done',
  meterFailure: 'MeterFailure',
  planFailed: 'PlanFailed',
} as const;

/** Where the ASL puts what it adds to the plan state. */
export const PLAN_STATE_PATHS = {
  /** Read by the Choice: prefill's opaque KV-transfer parameters (absent or null when there are none). */
  kvTransferParams: '$.kvTransferParams',
  /** Written by a Catch: `{Error, Cause}` of the step that failed (input of Fallback). */
  error: '$.error',
  /** Written when the meter step failed after its retries: `{Error, Cause}`; the caller meters. */
  meterError: '$.meterError',
} as const;

/** Properties of {@link Orchestration}. */
export interface OrchestrationProps {
  /** The function of each plan step. */
  readonly tasks: Readonly<Record<PlanTask, IFunction>>;
  /**
   * Timeout of the prefill, decode and fallback task states (`States.Timeout` when exceeded).
   * @default Duration.minutes(4)
   */
  readonly backendTaskTimeout?: Duration;
  /**
   * Attempts after the first on a transient error (2–3 keeps a failing pool from eating the
   * client's latency budget before the fallback runs).
   * @default TASK_RETRY.maxRetries (2)
   */
  readonly maxRetryAttempts?: number;
  /**
   * Retention of the execution log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * Express state machine running one request's plan:
 *
 * ```
 * Prefill ─▶ HasKvTransferParams ─(object)──────────────▶ Decode ─▶ Meter ─▶ Done
 *               └─(absent/null)─▶ RecomputeNoted ─▶ Decode  ▲
 * Prefill/Decode ─Catch─▶ Fallback ───────────────────────────┘ (Meter)
 * Prefill/Decode ─Catch(ClientError)─┐
 * Fallback ─Catch────────────────────┴▶ MeterFailure ─▶ PlanFailed (Error/Cause of the failure)
 * Meter ─Catch─▶ MeterDeferred ─▶ Done
 * ```
 *
 * Task contract (each step is `(state) => nextState`; the Lambda functions get the state as their
 * whole event, `payloadResponseOnly`, and their return value becomes the next state):
 * - Execution input: the plan state built by the gateway: any JSON object. The ASL itself reads
 *   only `kvTransferParams` and writes only `error` and `meterError` (see {@link PLAN_STATE_PATHS}).
 * - `Prefill`: input the plan state; output the plan state, with `kvTransferParams` set to
 *   prefill's object when prefill returned one, `null` when prefill answered without one, and
 *   absent on routes with no separate prefill (aggregated, Bedrock: the step returns its input).
 * - `HasKvTransferParams` (Choice): `$.kvTransferParams` absent or null → `RecomputeNoted` (a Pass
 *   that changes nothing: it makes the recompute branch visible in the graph and in execution
 *   history; decode sees the missing parameters and counts the recompute); an object → `Decode`.
 * - `Decode`: input the plan state; output the final plan state (the completion the gateway returns).
 * - `Fallback`: input the plan state plus `error: {Error, Cause}` from the failed step (Cause is
 *   the Lambda error JSON string `{"errorType","errorMessage",…}`); output the final plan state
 *   served by the tier's fallback route. When no route is left it throws the last failure as a
 *   plan error (`Splitserve.UpstreamFatal`/`UpstreamTransient`, or
 *   `Splitserve.ClientError` rethrown unchanged).
 * - `Meter` / `MeterFailure`: input the final (or failed, with `error`) plan state; output
 *   discarded (`ResultPath: null`): metering is a side effect and never changes the answer.
 * - Execution output: the final plan state (plus `meterError` if metering must be redone by the
 *   caller). On failure the execution fails with the failed step's `Error` and `Cause`.
 *
 * Retries: every task retries {@link RETRYABLE_PLAN_ERRORS} (Lambda service errors, throttling,
 * SDK client errors, `States.Timeout`, `Splitserve.UpstreamTransient`) with interval 1 s (the ASL
 * minimum: IntervalSeconds is a whole number), backoff rate 2, full jitter, a 4 s cap.
 * `Prefill` and `Decode` catch `Splitserve.ClientError` to `MeterFailure` (a request no route would
 * accept), and everything else (`States.ALL`) to `Fallback`.
 */
export class Orchestration extends Construct {
  /** The Express state machine. */
  public readonly stateMachine: IStateMachine;

  constructor(scope: Construct, id: string, props: OrchestrationProps) {
    super(scope, id);
    const taskTimeout = Timeout.duration(props.backendTaskTimeout ?? Duration.minutes(4));
    const retry: RetryProps = {
      errors: [...RETRYABLE_PLAN_ERRORS],
      maxAttempts: props.maxRetryAttempts ?? TASK_RETRY.maxRetries,
      interval: Duration.seconds(TASK_RETRY.intervalSeconds),
      backoffRate: TASK_RETRY.backoffRate,
      maxDelay: Duration.seconds(4),
      jitterStrategy: JitterType.FULL,
    };
    const invoke = (stateName: string, fn: IFunction, extra: { resultPath?: string; taskTimeout?: Timeout } = {}) =>
      new LambdaInvoke(this, stateName, {
        stateName,
        lambdaFunction: fn,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        taskTimeout: extra.taskTimeout ?? taskTimeout,
        ...(extra.resultPath !== undefined ? { resultPath: extra.resultPath } : {}),
      }).addRetry(retry);

    const meterTimeout = Timeout.duration(Duration.seconds(10));
    const prefill = invoke(PLAN_STATES.prefill, props.tasks.prefill);
    const decode = invoke(PLAN_STATES.decode, props.tasks.decode);
    const fallback = invoke(PLAN_STATES.fallback, props.tasks.fallback);
    const meter = invoke(PLAN_STATES.meter, props.tasks.meter, { resultPath: JsonPath.DISCARD, taskTimeout: meterTimeout });
    const meterFailure = invoke(PLAN_STATES.meterFailure, props.tasks.meter, { resultPath: JsonPath.DISCARD, taskTimeout: meterTimeout });
    const done = new Succeed(this, PLAN_STATES.done, { stateName: PLAN_STATES.done });
    const meterDeferred = new Pass(this, PLAN_STATES.meterDeferred, { stateName: PLAN_STATES.meterDeferred, comment: 'Metering failed after retries; the gateway meters from the output.' });
    const planFailed = new Fail(this, PLAN_STATES.planFailed, {
      stateName: PLAN_STATES.planFailed,
      errorPath: `${PLAN_STATE_PATHS.error}.Error`,
      causePath: `${PLAN_STATE_PATHS.error}.Cause`,
    });
    const recomputeNoted = new Pass(this, PLAN_STATES.recomputeNoted, {
      stateName: PLAN_STATES.recomputeNoted,
      comment: 'No kvTransferParams from prefill: decode recomputes the prompt (vLLM disaggregated step 4).',
    });
    const hasKv = new Choice(this, PLAN_STATES.hasKvTransferParams, { stateName: PLAN_STATES.hasKvTransferParams });

    const toFallback = { errors: [Errors.ALL], resultPath: PLAN_STATE_PATHS.error };
    const clientError = { errors: [PLAN_ERRORS.clientError], resultPath: PLAN_STATE_PATHS.error };
    // Catchers match in order: a client error (no other route would accept the request) skips
    // the fallback; everything else gets one.
    prefill.addCatch(meterFailure, clientError).addCatch(fallback, toFallback);
    decode.addCatch(meterFailure, clientError).addCatch(fallback, toFallback);
    fallback.addCatch(meterFailure, toFallback);
    meter.addCatch(meterDeferred, { errors: [Errors.ALL], resultPath: PLAN_STATE_PATHS.meterError });
    meterFailure.addCatch(planFailed, { errors: [Errors.ALL], resultPath: PLAN_STATE_PATHS.meterError });

    meter.next(done);
    meterDeferred.next(done);
    fallback.next(meter);
    decode.next(meter);
    recomputeNoted.next(decode);
    // Rules run in order and stop at the first match, so IsNull only sees a present field.
    hasKv
      .when(Condition.not(Condition.isPresent(PLAN_STATE_PATHS.kvTransferParams)), recomputeNoted)
      .when(Condition.isNull(PLAN_STATE_PATHS.kvTransferParams), recomputeNoted)
      .otherwise(decode);
    prefill.next(hasKv);
    meterFailure.next(planFailed);

    const logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.EXPRESS,
      queryLanguage: QueryLanguage.JSON_PATH,
      definitionBody: DefinitionBody.fromChainable(prefill),
      // Shorter than the gateway function's 5 minutes less its deadline margin: an execution that
      // runs out of time ends TIMED_OUT (without its Meter step) while the gateway still waits,
      // so the gateway sees the status and meters the request itself.
      timeout: EXECUTION_TIMEOUT,
      tracingEnabled: true,
      // Every state transition with its timing (how long prefill, the hand-off and decode took)
      // but no execution data: inputs and outputs carry customers' prompts and completions.
      logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: false },
    });

    const stack = Stack.of(this);
    Validations.of(this).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only the CloudWatch Logs delivery actions (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, DescribeLogGroups) and X-Ray actions use Resource "*": neither supports resource-level permissions, and Step Functions logging and tracing require them.',
      },
      ...Object.values(props.tasks).map((fn) => ({
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(fn.node.defaultChild as CfnElement)}.Arn>:*]`,
        reason: `The state machine may invoke versions and aliases (<function ARN>:*) of the ${fn.node.id} step function only; CDK's LambdaInvoke grants the qualified ARNs with the unqualified one.`,
      })),
    );
  }
}
