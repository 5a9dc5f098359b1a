/**
 * A local Step Functions endpoint speaking the service's AWS JSON 1.0 protocol for
 * `StartSyncExecution` (what the gateway's real `@aws-sdk/client-sfn` client calls, pointed here
 * by `AWS_ENDPOINT_URL_SFN`), running the local state machines; plus `GET /_local/executions`
 * with the executions and their histories.
 *
 * The SDK prefixes StartSyncExecution's host with `sync-`; a client aimed at this endpoint must be
 * built with `disableHostPrefix: true` (lambda/handlers/step-functions-executor.ts does when
 * `AWS_ENDPOINT_URL_SFN` is set).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../../lambda/core/read-body.ts';
import { listen } from '../http-adapter.ts';
import type { RunningServer } from '../http-adapter.ts';
import type { ExecutionRecord, LocalStateMachine } from './state-machine-runner.ts';

/** The `X-Amz-Target` of the one operation served. */
export const START_SYNC_EXECUTION_TARGET = 'AWSStepFunctions.StartSyncExecution';

/** The route listing executions (JSON array, newest last). */
export const EXECUTIONS_ROUTE = '/_local/executions';

const JSON_10 = 'application/x-amz-json-1.0';

function send(res: ServerResponse, status: number, body: unknown, contentType = JSON_10): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': randomUUID() });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  send(res, status, { __type: `com.amazonaws.sfn#${type}`, message });
}

/** The StartSyncExecution response of a finished execution (dates as epoch seconds). */
export function toStartSyncExecutionOutput(record: ExecutionRecord): Record<string, unknown> {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    startDate: record.startDate.getTime() / 1000,
    stopDate: (record.stopDate ?? new Date()).getTime() / 1000,
    status: record.status,
    input: record.input,
    inputDetails: { included: true },
    ...(record.output !== undefined ? { output: record.output, outputDetails: { included: true } } : {}),
    ...(record.error !== undefined ? { error: record.error } : {}),
    ...(record.cause !== undefined ? { cause: record.cause } : {}),
    billingDetails: { billedMemoryUsedInMB: 64, billedDurationInMilliseconds: Math.max(100, (record.stopDate?.getTime() ?? 0) - record.startDate.getTime()) },
  };
}

/**
 * Serves the state machines of `byArn` on `host:port` (0: an ephemeral port). The map is read per
 * request, so machines may be added after the endpoint started (their functions need its URL).
 */
export async function serveStepFunctions(byArn: ReadonlyMap<string, LocalStateMachine>, port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  return listen(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const path = new URL(req.url ?? '/', 'http://local').pathname;
    if (req.method === 'GET' && path === EXECUTIONS_ROUTE) {
      send(res, 200, [...byArn.values()].flatMap((m) => m.executions()), 'application/json');
      return;
    }
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || path !== '/') {
      sendError(res, 404, 'UnknownOperationException', `${req.method} ${path} is not served`);
      return;
    }
    if (target !== START_SYNC_EXECUTION_TARGET) {
      sendError(res, 400, 'UnknownOperationException', `${String(target)} is not supported locally (only ${START_SYNC_EXECUTION_TARGET})`);
      return;
    }
    let request: { stateMachineArn?: unknown; name?: unknown; input?: unknown };
    try {
      request = JSON.parse(body) as typeof request;
    } catch {
      sendError(res, 400, 'SerializationException', 'body is not JSON');
      return;
    }
    const machine = byArn.get(String(request.stateMachineArn));
    if (!machine) {
      sendError(res, 400, 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${String(request.stateMachineArn)}'`);
      return;
    }
    const input = typeof request.input === 'string' ? request.input : '{}';
    try {
      JSON.parse(input);
    } catch {
      sendError(res, 400, 'InvalidExecutionInput', 'input is not valid JSON');
      return;
    }
    const record = await machine.startSyncExecution(input, typeof request.name === 'string' ? request.name : undefined);
    send(res, 200, toStartSyncExecutionOutput(record));
  }, port, host);
}
