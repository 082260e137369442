// resumableStream: a streamed chat completion that outlives the scheduler
// serving it, for the official openai npm client. docs/api.md shows it.
//
// A region has several schedulers (urls, each ".../v1"). The stream starts
// on the first that answers; when its connection breaks, the helper asks
// the next scheduler for the rest with GET /v1/jobs/{id}/stream?after=N,
// where N counts the tokens already received (each chunk's token_index),
// and parses that with the client's own server-sent-events reader. The
// caller sees one stream: no token lost, none repeated.
import OpenAI from 'openai';
import { Stream } from 'openai/streaming';

export async function* resumableStream(urls, apiKey, params, { tries = 8, waitMs = 250, onResume } = {}) {
  let id = null;
  let next = 0;
  let lastError = null;
  for (let attempt = 0; attempt < tries; attempt++) {
    const base = urls[attempt % urls.length];
    try {
      let stream;
      if (id === null) {
        const client = new OpenAI({ baseURL: base, apiKey, maxRetries: 0 });
        stream = await client.chat.completions.create({ ...params, stream: true });
      } else {
        if (onResume) onResume(base, next);
        const controller = new AbortController();
        const res = await fetch(`${base}/jobs/${id}/stream?after=${next}`, {
          headers: { Authorization: `Bearer ${apiKey}` },
          signal: controller.signal,
        });
        if (!res.ok) throw new Error(`resume on ${base}: HTTP ${res.status} ${await res.text()}`);
        stream = Stream.fromSSEResponse(res, controller);
      }
      for await (const chunk of stream) {
        id = chunk.id;
        if (typeof chunk.token_index === 'number') next = chunk.token_index + 1;
        yield chunk;
      }
      return;
    } catch (e) {
      lastError = e;
      await new Promise((r) => setTimeout(r, waitMs));
    }
  }
  throw lastError;
}
