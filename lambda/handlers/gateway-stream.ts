/**
 * The gateway's Lambda handler (response streaming, behind API Gateway REST with
 * `ResponseTransferMode.STREAM`): translates the proxy event, calls the core, streams the answer
 * through `awslambda.HttpResponseStream`, and writes usage records after the response has ended.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { Writable } from 'node:stream';
import type { GatewayResponse } from '../core/http-types.ts';
import { fromProxyEvent } from './api-gateway-request.ts';
import { invocationDeadline } from './deadline.ts';
import { readFunctionEnvironment } from './function-env.ts';
import type { GatewayRuntime } from './gateway-runtime.ts';
import { assembleGateway } from './gateway-runtime.ts';
import { localMetrics } from './local-metrics.ts';
import { fanOutMetrics } from '../core/metrics-fanout.ts';
import { EmfRequestMetrics } from './request-metrics.ts';
import { StepFunctionsExecutor } from './step-functions-executor.ts';
import { traced } from './tracing.ts';
import { writeBody } from './write-stream.ts';

let runtime: GatewayRuntime | undefined;

/** The runtime, assembled once per execution environment (cold start). */
function getRuntime(): GatewayRuntime {
  if (!runtime) {
    const env = readFunctionEnvironment();
    const arn = env.stateMachineArn;
    runtime = assembleGateway({
      config: env.config,
      dynamo: traced(env.dynamo),
      tables: env.tables,
      executor: arn ? () => new StepFunctionsExecutor(arn) : undefined,
      metrics: (pools) => fanOutMetrics([new EmfRequestMetrics({ pools }), localMetrics(pools)]),
      // An execution environment is frozen between invocations: registered workers are read on the request path when due.
      discoveryTimers: false,
    });
  }
  return runtime;
}

export { observeLocally } from './local-metrics.ts';

/** Writes a core response to a Lambda response stream. */
export async function writeToResponseStream(responseStream: Writable, response: GatewayResponse): Promise<void> {
  await writeBody(awslambda.HttpResponseStream.from(responseStream, { statusCode: response.status, headers: response.headers }), response.body);
}

/** Lambda entry point. */
export const handler = awslambda.streamifyResponse(
  async (event: APIGatewayProxyEvent, responseStream: Writable, context: Context): Promise<void> => {
    const current = getRuntime();
    const controller = new AbortController();
    responseStream.on('close', () => {
      if (!responseStream.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const deadline = invocationDeadline(context);
    try {
      const response = await current.gateway(fromProxyEvent(event, controller.signal, deadline.signal));
      await writeToResponseStream(responseStream, response);
    } finally {
      deadline.clear();
    }
    await current.flush();
  },
);

/**
 * Drains this environment's gateway: new requests are refused, in-flight ones get `drainMs`, then
 * end with a 503 and are metered. Lambda never stops an environment with an invocation in
 * flight, so only the local stack runtime calls it (when `npm start` stops).
 */
export async function shutdown(drainMs: number): Promise<void> {
  await runtime?.shutdown(drainMs);
}
