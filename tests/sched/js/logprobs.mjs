// Log-probabilities from a real weftd through the scheduler, with the
// official openai client: greedy decoding picks the likeliest token, so
// each token is its own first alternative, with the same log-probability;
// the alternatives are ordered and sum to at most 1; the tokens' bytes
// spell the text; a stream's entries are the whole answer's. WEFT_URL,
// WEFT_KEY, WEFT_MODEL and NODE_EXTRA_CA_CERTS come from the case.
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });
const model = process.env.WEFT_MODEL;
const ask = {
  model, max_tokens: 24, temperature: 0, seed: 5, logprobs: true, top_logprobs: 5,
  messages: [{ role: 'user', content: 'Once upon a time' }],
};

const chat = await client.chat.completions.create(ask);
const content = chat.choices[0].logprobs.content;
assert.equal(content.length, chat.usage.completion_tokens);
const spelled = Buffer.concat(content.map((e) => Buffer.from(e.bytes))).toString('utf8');
// The detokenizer drops the space SentencePiece puts before the first word.
assert.equal(spelled.trimStart(), chat.choices[0].message.content.trimStart());
for (const e of content) {
  assert.ok(e.logprob <= 0, e);
  assert.equal(e.top_logprobs.length, 5);
  assert.equal(e.top_logprobs[0].token, e.token, 'greedy picks the likeliest');
  assert.ok(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-6, e);
  for (let k = 1; k < 5; k++) assert.ok(e.top_logprobs[k].logprob <= e.top_logprobs[k - 1].logprob, e);
  assert.ok(e.top_logprobs.reduce((s, t) => s + Math.exp(t.logprob), 0) <= 1 + 1e-5, e);
}

const stream = await client.chat.completions.create({ ...ask, stream: true });
const streamed = [];
for await (const chunk of stream) {
  const lp = chunk.choices[0]?.logprobs;
  if (lp) streamed.push(...lp.content);
}
assert.deepEqual(streamed, content, 'the stream carries the same log-probabilities');

const comp = await client.completions.create({ model, prompt: 'The cat', max_tokens: 8, temperature: 0, logprobs: 3 });
const lp = comp.choices[0].logprobs;
assert.equal(lp.tokens.length, comp.usage.completion_tokens);
assert.equal(lp.token_logprobs.length, lp.tokens.length);
lp.top_logprobs.forEach((top, i) => {
  assert.equal(Object.keys(top).length <= 3, true);
  assert.ok(Math.abs(Math.max(...Object.values(top)) - lp.token_logprobs[i]) < 1e-6, 'greedy');
});
console.log('openai client logprobs: all checks passed');
