// Tool calls read by the official openai client, whole and streamed (the
// deltas a client accumulates), from a node whose template has tools.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });
const tools = [{
  type: 'function',
  function: {
    name: 'add', description: 'Adds two numbers',
    parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } },
      required: ['a', 'b'], additionalProperties: false },
  },
}];
const ask = {
  model: process.env.WEFT_MODEL, max_tokens: 100, seed: 3, tools, tool_choice: 'required',
  messages: [{ role: 'user', content: 'What is 2 + 3?' }],
};
const whole = await client.chat.completions.create(ask);
const call = whole.choices[0].message.tool_calls[0];
assert.equal(whole.choices[0].finish_reason, 'tool_calls');
assert.equal(call.function.name, 'add');
const args = JSON.parse(call.function.arguments);
assert.ok(Number.isInteger(args.a) && Number.isInteger(args.b), call.function.arguments);

const stream = await client.chat.completions.create({ ...ask, stream: true });
const calls = [];
let finish = null;
for await (const chunk of stream) {
  const c = chunk.choices[0];
  if (!c) continue;
  for (const d of c.delta?.tool_calls ?? []) {
    calls[d.index] ??= { id: d.id, name: '', arguments: '' };
    calls[d.index].name += d.function?.name ?? '';
    calls[d.index].arguments += d.function?.arguments ?? '';
  }
  finish = c.finish_reason ?? finish;
}
assert.equal(finish, 'tool_calls');
assert.equal(calls.length, 1);
assert.equal(calls[0].name, 'add');
assert.deepEqual(JSON.parse(calls[0].arguments), args, 'the stream calls what the whole reply calls');
console.log('openai client tools: all checks passed');
