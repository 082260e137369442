// presence_penalty and frequency_penalty through the official openai npm
// client to a real weftd: greedy decoding of a story repeats itself; a
// frequency penalty changes the text and lowers the count of its most
// repeated word, streamed and not alike; out-of-range values are the
// client's BadRequestError naming the parameter. WEFT_URL, WEFT_KEY and
// WEFT_MODEL come from the case (tests/node/cases/penalties_reach_the_sampler.sh).
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });
const model = process.env.WEFT_MODEL;
const base = { model, prompt: 'Once upon a time', max_tokens: 120, temperature: 0 };

const top = (text) => {
  const n = new Map();
  for (const w of text.toLowerCase().match(/[a-z']+/g) ?? []) n.set(w, (n.get(w) ?? 0) + 1);
  return Math.max(...n.values());
};
const plain = (await client.completions.create(base)).choices[0].text;
const penalised = (await client.completions.create({ ...base, frequency_penalty: 1.5 })).choices[0].text;
assert.notEqual(penalised, plain);
assert.ok(top(penalised) < top(plain), `most repeated word: ${top(penalised)} vs ${top(plain)}`);

let streamed = '';
const s = await client.completions.create({ ...base, frequency_penalty: 1.5, stream: true });
for await (const c of s) streamed += c.choices[0]?.text ?? '';
assert.equal(streamed, penalised);

const chat = await client.chat.completions.create({
  model, messages: [{ role: 'user', content: 'Tell me a story' }], max_tokens: 60, temperature: 0,
  presence_penalty: 2, frequency_penalty: -0.5,
});
assert.ok(chat.choices[0].message.content.length > 0);

for (const param of ['presence_penalty', 'frequency_penalty']) {
  await assert.rejects(client.completions.create({ ...base, [param]: 2.5 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === param);
}
console.log(`penalties: most repeated word ${top(plain)} -> ${top(penalised)}`);
