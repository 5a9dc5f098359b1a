/**
 * What one DynamoDB call through the AWS SDK costs the caller in CPU: the SDK's `UpdateItem`
 * (the admission write's shape) against a store in its own process (`splitserve store`), 16 calls
 * in flight, after a warm-up; CPU of this process per call (`process.cpuUsage`), so the store's
 * own work is not counted. Beside it: the SDK with `maxAttempts: 1` (no retry middleware), and the
 * floor: the same request as a minimal SigV4-signed `node:http` POST (the DynamoDB JSON protocol,
 * signed with the SDK's own signer, `@smithy/signature-v4`; no retries, no error mapping: a
 * measurement, not a client). The gateway's DynamoDB calls per request times the SDK figure is
 * what the store costs a request path in the gateway.
 *
 * usage: npx tsx bench/sdk-call-cost.ts [calls=3000] [concurrency=16]
 */
import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { ProcessGroup } from './processes.ts';
import { SOURCE_CLI } from './build.ts';

const calls = Number(process.argv[2] ?? 3000);
const concurrency = Number(process.argv[3] ?? 16);
const TABLE = 'sdk-call-cost';
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Bytes or text as the signer hands them over. */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Buffer => (typeof d === 'string' ? d : ArrayBuffer.isView(d) ? Buffer.from(d.buffer, d.byteOffset, d.byteLength) : Buffer.from(d));

/** Node's SHA-256 in the shape the signer takes (a hash, or an HMAC with a secret). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
  reset(): void {}
}

/** One signed DynamoDB JSON call over a keep-alive agent; resolves with the parsed answer. */
function minimalCaller(endpoint: string): (target: string, input: object) => Promise<unknown> {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const signer = new SignatureV4({ service: 'dynamodb', region: 'local', credentials: CREDENTIALS, sha256: NodeSha256 });
  return async (target, input) => {
    const body = JSON.stringify(input);
    const signed = await signer.sign({
      method: 'POST', protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: '/', query: {}, body,
      headers: { host: url.host, 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': `DynamoDB_20120810.${target}` },
    });
    return new Promise((resolve, reject) => {
      const req = http.request({ hostname: url.hostname, port: url.port, path: '/', method: 'POST', agent, headers: { ...signed.headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(parts).toString('utf8'))) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  };
}

const procs = new ProcessGroup();
const removeHandlers = procs.installSignalHandlers();
try {
  const store = await procs.spawnService({ name: 'store', args: [...SOURCE_CLI, 'store', '--port', '0'], ready: /listening on (http:\/\/127\.0\.0\.1:\d+)/, timeoutMs: 60_000 });
  const client = (maxAttempts?: number, cacheMiddleware?: boolean) => new DynamoDBClient({ endpoint: store.url, region: 'local', credentials: CREDENTIALS, maxAttempts, cacheMiddleware });
  const setup = client();
  await setup.send(new CreateTableCommand({ TableName: TABLE, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
  setup.destroy();
  const input = { TableName: TABLE, Key: { pk: { S: 'counter' } }, UpdateExpression: 'ADD n :one', ConditionExpression: 'attribute_not_exists(n) OR n < :max', ExpressionAttributeValues: { ':one': { N: '1' }, ':max': { N: '1000000000' } }, ReturnValues: 'ALL_NEW' } as const;
  const minimal = minimalCaller(store.url);
  const variants: ReadonlyArray<readonly [string, () => { call: () => Promise<unknown>; close: () => void }]> = [
    ['AWS SDK, default client', () => { const c = client(); return { call: () => c.send(new UpdateItemCommand(input)), close: () => c.destroy() }; }],
    ['AWS SDK, maxAttempts: 1', () => { const c = client(1); return { call: () => c.send(new UpdateItemCommand(input)), close: () => c.destroy() }; }],
    ['AWS SDK, cacheMiddleware: true', () => { const c = client(undefined, true); return { call: () => c.send(new UpdateItemCommand(input)), close: () => c.destroy() }; }],
    ['minimal signed POST (floor)', () => ({ call: () => minimal('UpdateItem', input), close: () => undefined })],
  ];
  process.stdout.write(`UpdateItem, ${calls} calls, ${concurrency} in flight, store in its own process; CPU of the caller per call\n`);
  for (const round of [1, 2]) {
    for (const [name, make] of variants) {
      const { call, close } = make();
      for (let i = 0; i < 300; i++) await call();
      const before = process.cpuUsage();
      const started = performance.now();
      let left = calls;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await call();
      }));
      const cpu = process.cpuUsage(before);
      const wallMs = performance.now() - started;
      process.stdout.write(`round ${round}, ${name}: ${((cpu.user + cpu.system) / calls).toFixed(0)} µs CPU per call, ${((calls * 1000) / wallMs).toFixed(0)} calls/s\n`);
      close();
    }
  }
} finally {
  await procs.stopAll();
  removeHandlers();
}
