// The official openai npm client against weft-scheduler: chat, completions,
// streaming, usage and errors. WEFT_URL (…/v1) and WEFT_KEY come from
// sched_test.sh; NODE_EXTRA_CA_CERTS trusts the scheduler's dev certificate.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });

const models = await client.models.list();
assert.deepEqual(models.data.map((m) => m.id), ['test-model']);

const messages = [{ role: 'user', content: 'hello from the openai client' }];
const chat = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 7, seed: 11 });
assert.equal(chat.object, 'chat.completion');
assert.equal(chat.choices[0].message.role, 'assistant');
assert.equal(chat.choices[0].finish_reason, 'length');
assert.equal(chat.usage.completion_tokens, 7);
const text = chat.choices[0].message.content;
assert.equal(text.trim().split(/\s+/).length, 7);

// Streaming the same request (same seed) gives the same text.
const stream = await client.chat.completions.create({
  model: 'test-model', messages, max_tokens: 7, seed: 11, stream: true,
  stream_options: { include_usage: true },
});
let streamed = '';
let finish = null;
let usage = null;
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const c of chunk.choices) {
    streamed += c.delta?.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
}
assert.equal(streamed, text);
assert.equal(finish, 'length');
assert.equal(usage.completion_tokens, 7);

const comp = await client.completions.create({ model: 'test-model', prompt: 'once upon a time', max_tokens: 4 });
assert.equal(comp.object, 'text_completion');
assert.equal(comp.choices[0].text.trim().split(/\s+/).length, 4);

// n > 1: the client reads every choice, each the answer its seed gives.
const two = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 4, n: 2, seed: 20 });
assert.deepEqual(two.choices.map((c) => c.index), [0, 1]);
const second = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 4, seed: 21 });
assert.equal(two.choices[1].message.content, second.choices[0].message.content);
assert.equal(two.usage.completion_tokens, 8);

// Errors arrive as the client's typed exceptions.
await assert.rejects(
  client.chat.completions.create({ model: 'no-such-model', messages }),
  (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found');
await assert.rejects(
  client.chat.completions.create({ model: 'test-model', messages, temperature: 7 }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === 'temperature');
const wrong = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: 'wk-000000000000.bad', maxRetries: 0 });
await assert.rejects(wrong.models.list(), (e) => e instanceof OpenAI.AuthenticationError);

console.log('openai client: all checks passed');
