// The TypeScript `openai` SDK's helpers against the gateway: the chat.completions.stream helper
// (structured output), runTools (streamed and not) and chat.completions.parse.
import OpenAI from 'openai';
import { makeParseableResponseFormat } from 'openai/lib/parser';
import { baseURL, apiKey, model, main, TIMEOUT_MS, PROMPT, FILE_PROMPT, PERSON, WRITE_FILE, writeFile } from './common.mjs';

const client = new OpenAI({ baseURL: `${baseURL}/v1`, apiKey, maxRetries: 0, timeout: TIMEOUT_MS });

const personFormat = () =>
  makeParseableResponseFormat(
    { type: 'json_schema', json_schema: { name: 'Person', schema: PERSON, strict: true } },
    (content) => JSON.parse(content),
  );

async function tools(stream) {
  const tool = {
    type: 'function',
    function: { ...WRITE_FILE, function: writeFile, parse: JSON.parse },
  };
  const runner = client.chat.completions.runTools({
    model, stream, messages: [{ role: 'user', content: FILE_PROMPT }], tools: [tool],
  });
  let chunks = 0;
  if (stream) runner.on('chunk', () => { chunks += 1; });
  const finalContent = await runner.finalContent();
  const toolCalls = runner.messages
    .filter((m) => m.role === 'assistant' && m.tool_calls)
    .flatMap((m) => m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) })));
  const toolResults = runner.messages.filter((m) => m.role === 'tool').map((m) => ({ id: m.tool_call_id, content: m.content }));
  const completions = runner.allChatCompletions().length;
  return { finalContent, toolCalls, toolResults, completions, chunks };
}

await main({
  'tools': () => tools(false),
  'tools-stream': () => tools(true),
  'structured': async () => {
    const completion = await client.chat.completions.parse({
      model, messages: [{ role: 'user', content: PROMPT }], response_format: personFormat(),
    });
    const choice = completion.choices[0];
    return { parsed: choice.message.parsed, finishReason: choice.finish_reason };
  },
  'structured-stream': async () => {
    const stream = client.chat.completions.stream({
      model, messages: [{ role: 'user', content: PROMPT }], response_format: personFormat(),
      stream_options: { include_usage: true },
    });
    let chunks = 0;
    stream.on('chunk', () => { chunks += 1; });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0];
    return { parsed: choice.message.parsed, finishReason: choice.finish_reason, chunks, usage: completion.usage };
  },
});
