// A stream through resumableStream while the test kills schedulers: prints
// the whole text on stdout, and writes how many chunks have come to
// WEFT_PROGRESS after each (the test kills a scheduler at a count).
import { writeFileSync } from 'node:fs';
import { resumableStream } from './resumable.mjs';

const urls = process.env.WEFT_URLS.split(',').map((u) => `${u}/v1`);
const params = {
  model: 'test-model', max_tokens: Number(process.env.WEFT_MAX_TOKENS), seed: Number(process.env.WEFT_SEED),
  messages: [{ role: 'user', content: 'a stream that outlives its scheduler' }],
};
let text = '';
let chunks = 0;
let resumes = 0;
let finish = null;
for await (const chunk of resumableStream(urls, process.env.WEFT_KEY, params, {
  onResume: (base, after) => { resumes++; process.stderr.write(`resuming on ${base} after ${after}\n`); },
})) {
  const c = chunk.choices[0];
  if (c && c.delta && c.delta.content) text += c.delta.content;
  if (c && c.finish_reason) finish = c.finish_reason;
  chunks++;
  writeFileSync(process.env.WEFT_PROGRESS, String(chunks));
}
process.stderr.write(`resumes ${resumes} finish ${finish}\n`);
process.stdout.write(text);
