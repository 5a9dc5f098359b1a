import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { startEmbeddedDynamo, localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { functionDynamoClient } from '../../lambda/handlers/function-env.ts';

describe('functionDynamoClient', () => {
  let store: EmbeddedDynamo;
  const saved = { ...process.env };

  beforeAll(async () => {
    store = await startEmbeddedDynamo();
    await store.client.send(new CreateTableCommand({ TableName: 'fn-env', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: store.endpoint, AWS_REGION: 'local', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  });
  afterAll(async () => {
    process.env = saved;
    await store.close();
  });

  async function middlewareResolutions(client: DynamoDBClient, calls: number): Promise<number> {
    const spy = vi.spyOn(PutItemCommand.prototype, 'resolveMiddleware');
    try {
      for (let i = 0; i < calls; i++) await client.send(new PutItemCommand({ TableName: 'fn-env', Item: { pk: { S: `k${i}` } } }));
      return spy.mock.calls.length;
    } finally {
      spy.mockRestore();
      client.destroy();
    }
  }

  it('resolves the middleware stack once per command type, where a default client does it on every call', async () => {
    expect(await middlewareResolutions(functionDynamoClient(), 5)).toBe(1);
    expect(await middlewareResolutions(localDynamoClient(store.endpoint), 5)).toBe(5);
  });
});
