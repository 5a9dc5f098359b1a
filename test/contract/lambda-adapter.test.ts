/**
 * The gateway contract against the Lambda streaming handler (lambda/handlers/gateway-stream.ts)
 * behind the API Gateway emulator, configured through its environment exactly as the CDK stack
 * configures it, with the tables in the embedded DynamoDB store.
 */
import { FUNCTION_ENV } from '../../lambda/handlers/function-env.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import { TABLE_ENV } from '../../lambda/store/table-schema.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import type { StreamingLambdaHandler } from '../../local/apigw-emulator.ts';
import { serveApiGateway } from '../../local/apigw-emulator.ts';
import { startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { installLambdaGlobals } from '../../local/lambda-globals.ts';
import { describeGatewayContract } from './gateway-contract.ts';

const ROUTES = [
  { method: 'POST', path: '/v1/chat/completions' },
  { method: 'POST', path: '/v1/completions' },
  { method: 'GET', path: '/v1/models' },
  { method: 'GET', path: '/health' },
];

describeGatewayContract('lambda streaming handler', async (config) => {
  const store = await startEmbeddedDynamo();
  const tables = { config: 'lambda-config', usage: 'lambda-usage' };
  await createTables(store.client, tableDefinitions(tables));
  await seedFromConfig(store.client, tables, config);
  Object.assign(process.env, {
    [FUNCTION_ENV.config]: JSON.stringify({ ...config, tenants: [] }),
    [TABLE_ENV.config]: tables.config,
    [TABLE_ENV.usage]: tables.usage,
    AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
    AWS_REGION: 'local',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  installLambdaGlobals();
  const { handler } = await import('../../lambda/handlers/gateway-stream.ts');
  const server = await serveApiGateway(handler as unknown as StreamingLambdaHandler, ROUTES);
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await store.close();
    },
  };
});
