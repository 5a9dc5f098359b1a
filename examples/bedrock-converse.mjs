import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';

const client = new BedrockRuntimeClient({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:8787',
  token: { token: 'sk-ss-dev-local-0123456789abcdef0123456789abcdef' },
  authSchemePreference: ['httpBearerAuth'],
});
const response = await client.send(
  new ConverseStreamCommand({
    modelId: 'llama-3.1-8b',
    messages: [{ role: 'user', content: [{ text: 'Why split prefill and decode?' }] }],
    inferenceConfig: { maxTokens: 32 },
    serviceTier: { type: 'priority' },
  }),
);
for await (const event of response.stream) {
  if (event.contentBlockDelta?.delta?.text) process.stdout.write(event.contentBlockDelta.delta.text);
  if (event.metadata) console.log(`\nserved at the ${event.metadata.serviceTier?.type} tier:`, event.metadata.usage);
}
