/**
 * The gateway Lambda function exactly as deployed, for the bench's `lambda` target: its bundle
 * from the cloud assembly the stack synthesizes (the `index.mjs` a deploy uploads, with the
 * transport and the response writer that bundle has), loaded through the local Lambda runtime
 * (local/stack/local-lambda.ts, the `awslambda` shim of local/lambda-globals.ts) with the
 * template's environment, and fronted by the thinnest node:http server that turns a request into
 * the API Gateway proxy event and the response stream's prelude back into a status and headers.
 * No route table and no gateway responses: deployed, that is API Gateway's work and cost.
 *
 * The store is another process (`splitserve store`): the template's tables are created in it and
 * the config's tenants seeded, as `npm start` does.
 *
 * Usage: `node --import tsx bench/lambda-host.ts --assembly DIR --config FILE --store URL [--port 0]`;
 * prints `lambda-host listening on http://127.0.0.1:<port> (<function>: <bundle file>, handler <name>)`.
 * With `--floor --agg URL --prefill URL --decode URL` it hosts the Lambda floor (bench/lambda-floor.ts)
 * instead: the bare pass-through as a streaming handler, no assembly and no store.
 * DIR is a cloud assembly synthesized
 * from FILE (local/stack/synth.ts; the bench synthesizes it before starting this).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { readBody } from '../lambda/core/read-body.ts';
import { TABLE_ENV } from '../lambda/store/table-schema.ts';
import { seedFromConfig } from '../lambda/store/seed.ts';
import { createTables } from '../lambda/store/tables.ts';
import { toProxyEvent } from '../local/apigw-emulator.ts';
import type { StreamingLambdaHandler } from '../local/apigw-emulator.ts';
import { openLocalStore } from '../local/embedded-dynamo.ts';
import { lambdaContext } from '../local/lambda-context.ts';
import { PRELUDE_DELIMITER, installLambdaGlobals } from '../local/lambda-globals.ts';
import { loadConfigFile } from '../local/start-local.ts';
import { apiRoutesFromTemplate } from '../local/stack/api-routes.ts';
import { readCloudAssembly } from '../local/stack/cloud-assembly.ts';
import { loadLocalFunctions, localFunctionOverrides } from '../local/stack/local-lambda.ts';
import { tableDefinitionsFromTemplate } from '../local/stack/local-tables.ts';
import { LOCAL_PSEUDO_PARAMETERS, createTemplateResolver } from '../local/stack/template-resolver.ts';
import { lambdaFloorHandler } from './lambda-floor.ts';
import { exitWhenParentGone } from './processes.ts';

/**
 * The Lambda response stream as the host sees it: the prelude (JSON status and headers, then
 * eight NUL bytes) becomes the HTTP head, every later byte goes to the client as it is written,
 * with the client's back-pressure.
 */
class ResponseStreamRelay extends Writable {
  private head: Buffer | null = Buffer.alloc(0);

  constructor(private readonly res: ServerResponse) {
    super();
    res.on('close', () => {
      if (!res.writableFinished) this.destroy();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.head !== null) {
      const head = Buffer.concat([this.head, chunk]);
      const at = head.indexOf(PRELUDE_DELIMITER);
      if (at === -1) {
        this.head = head;
        return done();
      }
      const prelude = JSON.parse(head.subarray(0, at).toString('utf8')) as { statusCode?: number; headers?: Record<string, string> };
      this.head = null;
      this.res.writeHead(prelude.statusCode ?? 200, prelude.headers ?? {});
      chunk = head.subarray(at + PRELUDE_DELIMITER.length);
      if (chunk.length === 0) return done();
    }
    if (this.res.write(chunk)) done();
    else this.res.once('drain', () => done());
  }

  override _final(done: (error?: Error | null) => void): void {
    if (this.head !== null) failed(this.res);
    else this.res.end();
    done();
  }
}

/** What API Gateway answers when the function fails before its response starts. */
function failed(res: ServerResponse): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(502, { 'content-type': 'application/json' }).end('{"message": "Internal server error"}');
}

/** The gateway function of the cloud assembly, loaded as the local stack runtime loads it. */
async function gatewayFunction(values: { assembly?: string; config?: string; store?: string }): Promise<{ handler: StreamingLambdaHandler; fn: { name: string; arn: string }; label: string }> {
  if (!values.assembly || !values.config || !values.store) throw new Error('usage: lambda-host --assembly DIR --config FILE --store URL [--port N], or lambda-host --floor --agg URL --prefill URL --decode URL [--port N]');
  const stack = await readCloudAssembly(values.assembly);
  const resolver = createTemplateResolver(stack.template);
  const routes = apiRoutesFromTemplate(stack.template, resolver);
  const target = routes[0]?.functionArn;
  if (!target || routes.some((r) => r.functionArn !== target)) throw new Error('the API must integrate exactly one function');

  const store = await openLocalStore(values.store);
  await createTables(store.client, tableDefinitionsFromTemplate(stack.template, resolver).map((t) => t.input));

  const region = LOCAL_PSEUDO_PARAMETERS['AWS::Region'];
  const fns = await loadLocalFunctions({
    stack,
    resolver,
    // Streamed requests never start an execution: nothing listens at the Step Functions endpoint.
    overrides: localFunctionOverrides(region, { dynamodb: store.endpoint, sfn: 'http://127.0.0.1:9' }),
  });
  const gateway = fns.find(target);
  if (!gateway) throw new Error(`the API integrates ${target}, which is not a function of the stack`);
  const configTable = gateway.environment[TABLE_ENV.config];
  if (!configTable) throw new Error(`${gateway.logicalId} has no ${TABLE_ENV.config}`);
  await seedFromConfig(store.client, { config: configTable }, await loadConfigFile(values.config));
  return {
    handler: gateway.handler as unknown as StreamingLambdaHandler,
    fn: { name: gateway.name, arn: gateway.arn },
    label: `${gateway.logicalId}: ${gateway.file}, handler ${gateway.handlerName}`,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      assembly: { type: 'string' },
      config: { type: 'string' },
      store: { type: 'string' },
      floor: { type: 'boolean', default: false },
      agg: { type: 'string' },
      prefill: { type: 'string' },
      decode: { type: 'string' },
    },
    strict: true,
  });
  installLambdaGlobals();
  const { handler, fn, label } = values.floor
    ? { handler: lambdaFloorHandler(values) as unknown as StreamingLambdaHandler, fn: { name: 'LambdaFloor', arn: 'arn:aws:lambda:local:000000000000:function:LambdaFloor' }, label: 'the Lambda floor: bench/lambda-floor.ts' }
    : await gatewayFunction(values);
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const event = toProxyEvent(req, await readBody(req));
    const stream = new ResponseStreamRelay(res);
    try {
      await handler(event, stream, lambdaContext(fn, 900, 1024));
    } catch {
      failed(res);
      stream.destroy();
    }
    if (!stream.writableEnded && !stream.destroyed) stream.end();
  };
  const server = createServer((req, res) => void serve(req, res).catch(() => failed(res)));
  server.keepAliveTimeout = 120_000;
  server.listen(Number(values.port), '127.0.0.1', () => {
    process.stdout.write(`lambda-host listening on http://127.0.0.1:${(server.address() as AddressInfo).port} (${label})\n`);
  });
  exitWhenParentGone(() => server.close());
}

main().catch((err: unknown) => {
  process.stderr.write(`lambda-host: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
