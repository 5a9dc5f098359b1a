import OpenAI from 'openai';

const client = new OpenAI({ baseURL: 'http://127.0.0.1:8787/v1', apiKey: 'sk-ss-dev-local-0123456789abcdef0123456789abcdef' });
const stream = await client.chat.completions.create({
  model: 'llama-3.1-8b',
  messages: [{ role: 'user', content: 'Why split prefill and decode?' }],
  service_tier: 'priority',
  max_tokens: 32,
  stream: true,
  stream_options: { include_usage: true },
});
let last;
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0]?.delta.content ?? '');
  last = chunk;
}
console.log(`\nserved at the ${last.service_tier} tier:`, last.usage);
