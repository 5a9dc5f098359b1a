import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';

describe('startEmbeddedDynamo', () => {
  let store: EmbeddedDynamo;
  beforeAll(async () => {
    store = await startEmbeddedDynamo();
  });
  afterAll(async () => {
    await store.close();
  });

  it('listens on 127.0.0.1 and creates tables idempotently', async () => {
    expect(store.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const defs = tableDefinitions({ config: 'cfg-t', usage: 'usage-t' });
    await createTables(store.client, defs);
    await createTables(store.client, defs);
    const tables = await store.client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toEqual(['cfg-t', 'usage-t']);
    await store.client.send(new PutItemCommand({ TableName: 'cfg-t', Item: { pk: { S: 'a' }, sk: { S: 'b' }, v: { N: '1' } } }));
    const got = await store.client.send(new GetItemCommand({ TableName: 'cfg-t', Key: { pk: { S: 'a' }, sk: { S: 'b' } } }));
    expect(got.Item?.v?.N).toBe('1');
  });

  it('closes, and a second store is independent', async () => {
    const other = await startEmbeddedDynamo();
    expect(other.port).not.toBe(store.port);
    const tables = await other.client.send(new ListTablesCommand({}));
    expect(tables.TableNames).toEqual([]);
    await other.close();
    await expect(other.client.send(new ListTablesCommand({}))).rejects.toThrow();
  });
});
