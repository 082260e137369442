// N concurrent streams through resumableStream (tests/sched/js/resumable.mjs)
// over a region's schedulers; prints one line per stream: its index, how
// many times it resumed, and its text as JSON. WEFT_URLS (comma-separated,
// each without /v1), WEFT_KEY, WEFT_N, WEFT_MAX_TOKENS, WEFT_SEED0.
import { resumableStream } from '../../tests/sched/js/resumable.mjs';

const urls = process.env.WEFT_URLS.split(',');
const n = Number(process.env.WEFT_N);
const run = async (i) => {
  // Each stream starts on its own scheduler and goes round the others.
  const order = urls.map((_, k) => `${urls[(i + k) % urls.length]}/v1`);
  const params = {
    model: 'test-model', max_tokens: Number(process.env.WEFT_MAX_TOKENS), seed: Number(process.env.WEFT_SEED0) + i,
    messages: [{ role: 'user', content: `chaos stream ${i}` }],
  };
  let text = '';
  let resumes = 0;
  try {
    for await (const chunk of resumableStream(order, process.env.WEFT_KEY, params, {
      tries: 40, waitMs: 300, onResume: () => { resumes++; },
    })) {
      const c = chunk.choices[0];
      if (c && c.delta && c.delta.content) text += c.delta.content;
    }
    return `${i} ${resumes} ${JSON.stringify(text)}`;
  } catch (e) {
    return `${i} ${resumes} ERROR ${JSON.stringify(String(e))}`;
  }
};
const lines = await Promise.all(Array.from({ length: n }, (_, i) => run(i)));
process.stdout.write(lines.join('\n') + '\n');
