// The official openai npm client: one chat completion of the messages in
// WEFT_MESSAGES (JSON) on WEFT_MODEL; prints usage.prompt_tokens, then the
// finish reason. Used by tests/node/cases/chat_real_vocabulary_markup.sh.
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: process.env.WEFT_URL, apiKey: process.env.WEFT_KEY, maxRetries: 0 });
const chat = await client.chat.completions.create({
  model: process.env.WEFT_MODEL,
  messages: JSON.parse(process.env.WEFT_MESSAGES),
  max_tokens: 4,
  seed: 5,
});
console.log(chat.usage.prompt_tokens);
console.log(chat.choices[0].finish_reason);
