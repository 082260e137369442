// The Batch API through the official openai npm client, unchanged:
// files.create (multipart), batches.create, batches.retrieve until done,
// files.content, batches.list (its auto-paging), batches.cancel and
// files.del. A batch line with a seed answers what the same interactive
// request answers. WEFT_URL, WEFT_KEY and NODE_EXTRA_CA_CERTS as in
// client_test.mjs.
import OpenAI, { toFile } from 'openai';
import assert from 'node:assert/strict';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ask = (i) => ({
  model: 'test-model', max_tokens: 5, seed: 100 + i,
  messages: [{ role: 'user', content: `question number ${i}` }],
});
const n = 6;
const jsonl = Array.from({ length: n }, (_, i) => JSON.stringify({
  custom_id: `q-${i}`, method: 'POST', url: '/v1/chat/completions', body: ask(i),
})).join('\n') + '\n';

const file = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'questions.jsonl'), purpose: 'batch' });
assert.equal(file.object, 'file');
assert.equal(file.purpose, 'batch');
assert.equal(file.bytes, Buffer.byteLength(jsonl));
assert.equal(await (await client.files.content(file.id)).text(), jsonl);

let batch = await client.batches.create({
  input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
  metadata: { purpose: 'test' },
});
assert.equal(batch.object, 'batch');
assert.equal(batch.request_counts.total, n);
assert.equal(batch.metadata.purpose, 'test');
for (let i = 0; i < 200 && !['completed', 'failed', 'expired', 'cancelled'].includes(batch.status); i++) {
  await sleep(100);
  batch = await client.batches.retrieve(batch.id);
}
assert.equal(batch.status, 'completed');
assert.equal(batch.request_counts.completed, n);
assert.equal(batch.request_counts.failed, 0);
assert.equal(batch.error_file_id, null);

const out = (await (await client.files.content(batch.output_file_id)).text())
  .split('\n').filter((l) => l).map((l) => JSON.parse(l));
assert.deepEqual(out.map((r) => r.custom_id).sort(), Array.from({ length: n }, (_, i) => `q-${i}`));
for (const r of out) {
  assert.equal(r.response.status_code, 200);
  const i = Number(r.custom_id.slice(2));
  const live = await client.chat.completions.create(ask(i));
  assert.equal(r.response.body.choices[0].message.content, live.choices[0].message.content,
    `line ${r.custom_id}: the batch and the interactive answer differ`);
}

// A cancelled batch: the client's cancel, and its error file.
const cfile = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'again.jsonl'), purpose: 'batch' });
const queued = await client.batches.create({
  input_file_id: cfile.id, endpoint: '/v1/chat/completions', completion_window: '24h',
});
const cancelled = await client.batches.cancel(queued.id);
assert.ok(['cancelling', 'cancelled', 'completed'].includes(cancelled.status), cancelled.status);

// Listing with the client's auto-paging walks every page.
const seen = [];
for await (const b of client.batches.list({ limit: 1 })) seen.push(b.id);
assert.deepEqual(seen, [queued.id, batch.id]);

const gone = await client.files.del(file.id);
assert.equal(gone.deleted, true);
await assert.rejects(client.files.retrieve(file.id), (e) => e instanceof OpenAI.NotFoundError);
await assert.rejects(
  client.batches.create({ input_file_id: 'file-none', endpoint: '/v1/chat/completions', completion_window: '24h' }),
  (e) => e instanceof OpenAI.BadRequestError && e.param === 'input_file_id');
console.log('openai client batch: all checks passed');
