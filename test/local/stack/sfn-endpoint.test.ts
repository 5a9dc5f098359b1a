import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SFNClient, StartSyncExecutionCommand, StateMachineDoesNotExist } from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../local/http-adapter.ts';
import { lambdaErrorPayload } from '../../../local/stack/lambda-error.ts';
import { splitEnvironments } from '../../../local/stack/local-lambda.ts';
import { EXECUTIONS_ROUTE, serveStepFunctions } from '../../../local/stack/sfn-endpoint.ts';
import type { ExecutionRecord, LocalStateMachine } from '../../../local/stack/state-machine-runner.ts';
import { synthCacheKey } from '../../../local/stack/synth.ts';

const ARN = 'arn:aws:states:local:000000000000:stateMachine:Plan';

/** A state machine that echoes its input, or fails when the input asks to. */
function echoMachine(): LocalStateMachine {
  const records: ExecutionRecord[] = [];
  return {
    arn: ARN,
    executions: () => records,
    startSyncExecution: async (input, name = 'generated') => {
      const fail = (JSON.parse(input) as { fail?: boolean }).fail === true;
      const record: ExecutionRecord = {
        executionArn: `arn:aws:states:local:000000000000:express:Plan:${name}:1`,
        stateMachineArn: ARN,
        name,
        status: fail ? 'FAILED' : 'SUCCEEDED',
        input,
        ...(fail ? { error: 'Boom', cause: '{"errorType":"Boom","errorMessage":"x","trace":[]}' } : { output: input }),
        startDate: new Date(1_700_000_000_000),
        stopDate: new Date(1_700_000_000_250),
        history: [{ type: 'ExecutionStarted', timestamp: 1_700_000_000_000 }],
      };
      records.push(record);
      return record;
    },
  };
}

describe('local Step Functions endpoint, called by the real SDK client', () => {
  let server: RunningServer;
  let client: SFNClient;

  beforeAll(async () => {
    server = await serveStepFunctions(new Map([[ARN, echoMachine()]]));
    client = new SFNClient({ endpoint: server.url, region: 'local', disableHostPrefix: true, credentials: { accessKeyId: 'l', secretAccessKey: 'l' }, maxAttempts: 1 });
  });
  afterAll(async () => {
    client?.destroy();
    await server?.close();
  });

  it('answers StartSyncExecution (AWS JSON 1.0): status, output, dates', async () => {
    const out = await client.send(new StartSyncExecutionCommand({ stateMachineArn: ARN, name: 'req-1', input: '{"a":1}' }));
    expect(out.status).toBe('SUCCEEDED');
    expect(out.output).toBe('{"a":1}');
    expect(out.executionArn).toContain(':req-1:');
    expect(out.startDate?.getTime()).toBe(1_700_000_000_000);
    expect(out.stopDate?.getTime()).toBe(1_700_000_000_250);
  });

  it('reports a failed execution with error and cause', async () => {
    const out = await client.send(new StartSyncExecutionCommand({ stateMachineArn: ARN, input: '{"fail":true}' }));
    expect(out.status).toBe('FAILED');
    expect(out.error).toBe('Boom');
    expect(JSON.parse(out.cause!)).toMatchObject({ errorType: 'Boom' });
    expect(out.output).toBeUndefined();
  });

  it('answers an unknown state machine with the service error', async () => {
    await expect(client.send(new StartSyncExecutionCommand({ stateMachineArn: `${ARN}-nope`, input: '{}' }))).rejects.toBeInstanceOf(StateMachineDoesNotExist);
  });

  it('lists executions with their histories', async () => {
    const list = (await (await fetch(`${server.url}${EXECUTIONS_ROUTE}`)).json()) as ExecutionRecord[];
    expect(list.length).toBeGreaterThanOrEqual(2);
    expect(list[0]!.history[0]!.type).toBe('ExecutionStarted');
  });
});

describe('local runtime helpers', () => {
  it('reports non-Error throws as the Node.js runtime does', () => {
    expect(lambdaErrorPayload('plain')).toEqual({ errorType: 'Error', errorMessage: 'plain', trace: [] });
    const named = Object.assign(new Error('m'), { name: 'Splitserve.UpstreamFatal' });
    expect(lambdaErrorPayload(named)).toMatchObject({ errorType: 'Splitserve.UpstreamFatal', errorMessage: 'm' });
  });

  it('splits function environments into the shared part and the variables that differ', () => {
    const { shared, differing } = splitEnvironments([
      { SPLITSERVE_CONFIG: '{}', POWERTOOLS_SERVICE_NAME: 'gw', SPLITSERVE_STATE_MACHINE_ARN: 'arn' },
      { SPLITSERVE_CONFIG: '{}', POWERTOOLS_SERVICE_NAME: 'plan' },
    ]);
    expect(shared).toEqual({ SPLITSERVE_CONFIG: '{}' });
    expect(differing.sort()).toEqual(['POWERTOOLS_SERVICE_NAME', 'SPLITSERVE_STATE_MACHINE_ARN']);
  });

  it('keys the synth cache on the config content, not its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'splitserve-key-'));
    try {
      await writeFile(join(dir, 'a.json'), '{"x":1}');
      await writeFile(join(dir, 'b.json'), '{"x":1}');
      await writeFile(join(dir, 'c.json'), '{"x":2}');
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => synthCacheKey({ configPath: join(dir, `${n}.json`) })));
      expect(a).toBe(b);
      expect(a).not.toBe(c);
      expect(await synthCacheKey({ configPath: join(dir, 'a.json'), validate: true })).not.toBe(a);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
