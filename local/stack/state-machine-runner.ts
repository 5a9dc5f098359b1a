/**
 * Runs a state machine's synthesized ASL (JSONPath) with aws-local-stepfunctions, its Task states
 * mapped to local Lambda functions, and keeps each execution's history (states entered, exited,
 * failed, retried and caught, with timestamps).
 *
 * Task resources:
 * - a function ARN (CDK's `LambdaInvoke` with `payloadResponseOnly`): the state's input is the
 *   event, the function's result is the state's result;
 * - `arn:aws:states:::lambda:invoke`: the state's (Parameters-processed) input is
 *   `{FunctionName, Payload}`; the result is the envelope `{ExecutedVersion, Payload, StatusCode}`.
 * A function that throws fails the state with `Error` = its errorType and `Cause` = the Lambda
 * error JSON (see lambda-error.ts), so Retry/Catch match as they do on AWS.
 *
 * Retry waits: by default those of the ASL (`IntervalSeconds`, `BackoffRate`, `MaxDelaySeconds`,
 * `JitterStrategy`). `retryIntervalMs` replaces every wait by a fixed number of milliseconds
 * (aws-local-stepfunctions' `retryIntervalOverrides`): a local shortcut for tests, which keeps the
 * number of attempts and the error matching of the definition.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionTimeoutError, StateMachine } from 'aws-local-stepfunctions';
import type { RunOptions, StateMachineDefinition } from 'aws-local-stepfunctions';
import type { LocalFunction } from './local-lambda.ts';

/** The service integration that wraps a Lambda invocation in an envelope. */
export const LAMBDA_INVOKE_INTEGRATION = 'arn:aws:states:::lambda:invoke';

/** One entry of an execution's history. */
export interface HistoryEvent {
  readonly type: string;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
  /** The state, for state events. */
  readonly state?: string;
  /** For StateExited: how long the state ran, retries included (ms). */
  readonly durationMs?: number;
  /** For StateFailed / ExecutionFailed. */
  readonly error?: string;
  readonly cause?: string;
  /** For StateRetried: the attempt number (1-based). */
  readonly attempt?: number;
  /** For StateCaught: the catcher's Next state. */
  readonly next?: string;
}

/** Status values of StartSyncExecution. */
export const EXECUTION_STATUS = {
  running: 'RUNNING',
  succeeded: 'SUCCEEDED',
  failed: 'FAILED',
  timedOut: 'TIMED_OUT',
} as const;
/** One of {@link EXECUTION_STATUS}. */
export type ExecutionStatus = (typeof EXECUTION_STATUS)[keyof typeof EXECUTION_STATUS];

/** One execution, as StartSyncExecution reports it, plus its history. */
export interface ExecutionRecord {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  status: ExecutionStatus;
  readonly input: string;
  output?: string;
  error?: string;
  cause?: string;
  readonly startDate: Date;
  stopDate?: Date;
  readonly history: HistoryEvent[];
}

/** Options of {@link createLocalStateMachine}. */
export interface LocalStateMachineOptions {
  /** The state machine's ARN. */
  readonly arn: string;
  /** The resolved `DefinitionString`. */
  readonly definition: string;
  /** Finds the local function of a Task's Resource ARN or `FunctionName`. */
  readonly findFunction: (arnOrName: string) => LocalFunction | undefined;
  /**
   * A fixed wait before every retry, in milliseconds, instead of the ASL's intervals.
   * @default undefined (the definition's own intervals, jitter included)
   */
  readonly retryIntervalMs?: number;
  /**
   * Executions kept for {@link LocalStateMachine.executions}.
   * @default 200
   */
  readonly keepExecutions?: number;
}

/** A state machine running locally. */
export interface LocalStateMachine {
  readonly arn: string;
  /** Runs one execution to its end (Express `StartSyncExecution`). */
  startSyncExecution(input: string, name?: string): Promise<ExecutionRecord>;
  /** The most recent executions, oldest first. */
  executions(): readonly ExecutionRecord[];
}

type AslState = {
  Type: string;
  Resource?: string;
  Retry?: unknown[];
  Branches?: AslMachine[];
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
};
type AslMachine = { States: Record<string, AslState> };
type TaskHandler = NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>[string];
type JsonValue = Parameters<TaskHandler>[0];

function* allStates(machine: AslMachine): Generator<[string, AslState]> {
  for (const [name, state] of Object.entries(machine.States)) {
    yield [name, state];
    for (const nested of [...(state.Branches ?? []), state.Iterator, state.ItemProcessor]) {
      if (nested) yield* allStates(nested);
    }
  }
}

function taskHandler(stateName: string, resource: string, find: LocalStateMachineOptions['findFunction']): TaskHandler {
  if (resource === LAMBDA_INVOKE_INTEGRATION) {
    return async (raw: JsonValue) => {
      const input = (raw ?? {}) as { FunctionName?: string; Payload?: unknown };
      const fn = input.FunctionName ? find(input.FunctionName) : undefined;
      if (!fn) throw Object.assign(new Error(`Function not found: ${String(input.FunctionName)}`), { name: 'Lambda.ResourceNotFoundException' });
      const payload = await fn.invoke(input.Payload ?? null);
      return { ExecutedVersion: '$LATEST', Payload: payload as JsonValue, StatusCode: 200 };
    };
  }
  const fn = find(resource);
  if (!fn) throw new Error(`state ${stateName}: Resource ${resource} is neither a function of the stack nor ${LAMBDA_INVOKE_INTEGRATION}`);
  return async (input: JsonValue) => (await fn.invoke(input)) as JsonValue;
}

function errorOf(err: unknown): { error: string; cause: string; status: ExecutionStatus } {
  if (err instanceof ExecutionTimeoutError) return { error: 'States.Timeout', cause: 'The execution timed out.', status: EXECUTION_STATUS.timedOut };
  if (err instanceof ExecutionAbortedError) return { error: 'States.Aborted', cause: 'The execution was aborted.', status: EXECUTION_STATUS.failed };
  const inner = (err as { cause?: unknown }).cause;
  const source = inner instanceof Error ? inner : err instanceof Error ? err : new Error(String(err));
  return { error: source.name, cause: source.message, status: EXECUTION_STATUS.failed };
}

/**
 * Builds a local state machine (validating the definition and mapping every Task up front).
 *
 * @throws Error when the definition is invalid or a Task resource has no local function
 * @example
 * const sm = createLocalStateMachine({ arn, definition, findFunction: fns.find });
 * const run = await sm.startSyncExecution(JSON.stringify(state));
 * run.history.filter((e) => e.type === 'StateEntered').map((e) => e.state); // ['Prefill', …]
 */
export function createLocalStateMachine(options: LocalStateMachineOptions): LocalStateMachine {
  const definition = JSON.parse(options.definition) as AslMachine & { QueryLanguage?: string };
  if (definition.QueryLanguage !== undefined && definition.QueryLanguage !== 'JSONPath') {
    throw new Error(`${options.arn}: QueryLanguage ${definition.QueryLanguage} is not supported locally (aws-local-stepfunctions runs JSONPath only)`);
  }
  const handlers: Record<string, TaskHandler> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of allStates(definition)) {
    if (state.Type === 'Task') handlers[name] = taskHandler(name, String(state.Resource), options.findFunction);
    if (state.Retry && options.retryIntervalMs !== undefined) retryIntervalOverrides[name] = options.retryIntervalMs;
  }
  // Local ARNs (region "local") are not valid AWS ARNs; the resources were checked above.
  const machine = new StateMachine(definition as unknown as StateMachineDefinition, { validationOptions: { checkArn: false } });
  const keep = options.keepExecutions ?? 200;
  const records: ExecutionRecord[] = [];
  const machineName = options.arn.split(':').pop() ?? 'local';

  return {
    arn: options.arn,
    executions: () => [...records],
    async startSyncExecution(input, name = randomUUID()) {
      const record: ExecutionRecord = {
        executionArn: `arn:aws:states:local:000000000000:express:${machineName}:${name}:${randomUUID()}`,
        stateMachineArn: options.arn,
        name,
        status: EXECUTION_STATUS.running,
        input,
        startDate: new Date(),
        history: [],
      };
      records.push(record);
      if (records.length > keep) records.splice(0, records.length - keep);
      const run = machine.run(JSON.parse(input), {
        overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
        context: { Execution: { Id: record.executionArn, Name: name, StartTime: record.startDate.toISOString() } },
      });
      const entered = new Map<string, number>();
      const logged = (async () => {
        for await (const e of run.eventLogs) {
          const base = { type: e.type, timestamp: e.timestamp };
          if ('state' in e && e.state) {
            const state = e.state.name;
            if (e.type === 'StateEntered') entered.set(state, e.timestamp);
            const extra =
              e.type === 'StateExited'
                ? { durationMs: e.timestamp - (entered.get(state) ?? e.timestamp) }
                : e.type === 'StateFailed'
                  ? { error: e.Error, cause: typeof e.Cause === 'string' ? e.Cause : JSON.stringify(e.Cause) }
                  : e.type === 'StateRetried'
                    ? { attempt: e.retry.attempt }
                    : e.type === 'StateCaught'
                      ? { next: e.catch.catcher.Next }
                      : {};
            record.history.push({ ...base, state, ...extra });
          } else if (e.type === 'ExecutionFailed') {
            record.history.push({ ...base, error: e.Error, cause: typeof e.Cause === 'string' ? e.Cause : String(e.Cause) });
          } else {
            record.history.push(base);
          }
        }
      })();
      try {
        const output = await run.result;
        record.status = EXECUTION_STATUS.succeeded;
        record.output = JSON.stringify(output);
      } catch (err) {
        const failure = errorOf(err);
        record.status = failure.status;
        record.error = failure.error;
        record.cause = failure.cause;
      }
      record.stopDate = new Date();
      await logged;
      return record;
    },
  };
}

/** The states an execution entered, in order (its path through the graph). */
export function statesEntered(record: Pick<ExecutionRecord, 'history'>): string[] {
  return record.history.filter((e) => e.type === 'StateEntered').map((e) => e.state ?? '');
}
