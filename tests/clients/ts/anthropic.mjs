// The TypeScript `@anthropic-ai/sdk` against the gateway: the messages.stream helper (a tool
// round trip; structured output with jsonSchemaOutputFormat), and the same without streaming
// (messages.create, messages.parse).
import Anthropic from '@anthropic-ai/sdk';
import { jsonSchemaOutputFormat } from '@anthropic-ai/sdk/helpers/json-schema';
import { baseURL, apiKey, model, main, TIMEOUT_MS, PROMPT, FILE_PROMPT, PERSON, WRITE_FILE, writeFile } from './common.mjs';

const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: TIMEOUT_MS });
const tool = { name: WRITE_FILE.name, description: WRITE_FILE.description, input_schema: WRITE_FILE.parameters };

async function turn(stream, messages) {
  const params = { model, max_tokens: 1024, messages, tools: [tool] };
  if (!stream) return { message: await client.messages.create(params), events: 0 };
  const helper = client.messages.stream(params);
  let events = 0;
  helper.on('streamEvent', () => { events += 1; });
  const message = await helper.finalMessage();
  return { message, events };
}

async function tools(stream) {
  const messages = [{ role: 'user', content: FILE_PROMPT }];
  const first = await turn(stream, messages);
  const uses = first.message.content.filter((b) => b.type === 'tool_use');
  const toolResults = uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: writeFile(u.input) }));
  messages.push({ role: 'assistant', content: first.message.content }, { role: 'user', content: toolResults });
  const second = await turn(stream, messages);
  return {
    stopReasons: [first.message.stop_reason, second.message.stop_reason],
    toolCalls: uses.map((u) => ({ id: u.id, name: u.name, args: u.input })),
    toolResults: toolResults.map((r) => ({ id: r.tool_use_id, content: r.content })),
    finalContent: second.message.content.filter((b) => b.type === 'text').map((b) => b.text).join(''),
    events: first.events + second.events,
  };
}

const structuredParams = () => ({
  model, max_tokens: 1024, messages: [{ role: 'user', content: PROMPT }],
  output_config: { format: jsonSchemaOutputFormat(PERSON) },
});

await main({
  'tools': () => tools(false),
  'tools-stream': () => tools(true),
  'structured': async () => {
    const message = await client.messages.parse(structuredParams());
    return { parsed: message.parsed_output, stopReason: message.stop_reason };
  },
  'structured-stream': async () => {
    const stream = client.messages.stream(structuredParams());
    let events = 0;
    stream.on('streamEvent', () => { events += 1; });
    const message = await stream.finalMessage();
    return { parsed: message.parsed_output, stopReason: message.stop_reason, events, text: await stream.finalText() };
  },
});
