// The Vercel AI SDK (`ai` with `@ai-sdk/openai` and `@ai-sdk/anthropic`) against the gateway:
// `openai(model)` -- the provider's default, the Responses API (POST /v1/responses) -- and
// `anthropic(model)` (POST /v1/messages), each with generateText and streamText, a tool run for
// up to five steps (the tool result goes back up), and structured output.
// Scenarios: {responses,messages}-{tools,tools-stream,structured,structured-stream}.
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, streamText, tool, jsonSchema, isStepCount, Output } from 'ai';
import { baseURL, apiKey, model, scenario, main, TIMEOUT_MS, PROMPT, FILE_PROMPT, PERSON, WRITE_FILE, writeFile } from './common.mjs';

const surface = scenario.split('-')[0];
const provider = surface === 'messages'
  ? createAnthropic({ baseURL: `${baseURL}/v1`, apiKey })
  : createOpenAI({ baseURL: `${baseURL}/v1`, apiKey });
const languageModel = provider(model);
const common = { model: languageModel, maxOutputTokens: 1024, maxRetries: 0, abortSignal: AbortSignal.timeout(TIMEOUT_MS) };

const tools = {
  [WRITE_FILE.name]: tool({
    description: WRITE_FILE.description,
    inputSchema: jsonSchema(WRITE_FILE.parameters),
    execute: async (input) => writeFile(input),
  }),
};

function summary(steps, text, finishReason, usage) {
  return {
    text,
    finishReason,
    steps: steps.length,
    stepFinishReasons: steps.map((s) => s.finishReason),
    toolCalls: steps.flatMap((s) => s.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, args: c.input }))),
    toolResults: steps.flatMap((s) => s.toolResults.map((r) => ({ id: r.toolCallId, content: r.output }))),
    usage: { inputTokens: usage?.inputTokens, outputTokens: usage?.outputTokens },
    warnings: steps.flatMap((s) => s.warnings || []),
  };
}

async function runTools(stream) {
  const options = { ...common, tools, prompt: FILE_PROMPT, stopWhen: isStepCount(5) };
  if (!stream) {
    const r = await generateText(options);
    return summary(r.steps, r.text, r.finishReason, r.totalUsage);
  }
  let errors = [];
  const r = streamText({ ...options, onError: ({ error }) => { errors.push(String(error)); } });
  let parts = 0;
  for await (const part of r.fullStream) {
    if (part.type === 'error') errors.push(String(part.error));
    parts += 1;
  }
  if (errors.length) throw new Error(`stream errors: ${errors.join('; ')}`);
  return { ...summary(await r.steps, await r.text, await r.finishReason, await r.totalUsage), parts };
}

async function structured(stream) {
  const output = Output.object({ schema: jsonSchema(PERSON), name: 'Person' });
  if (!stream) {
    const r = await generateText({ ...common, prompt: PROMPT, output });
    return { parsed: r.output, finishReason: r.finishReason };
  }
  const r = streamText({ ...common, prompt: PROMPT, output });
  let parts = 0;
  for await (const part of r.fullStream) {
    if (part.type === 'error') throw part.error;
    parts += 1;
  }
  return { parsed: await r.output, finishReason: await r.finishReason, parts };
}

await main({
  [`${surface}-tools`]: () => runTools(false),
  [`${surface}-tools-stream`]: () => runTools(true),
  [`${surface}-structured`]: () => structured(false),
  [`${surface}-structured-stream`]: () => structured(true),
});
