// Shared by the Node.js client scripts: arguments, the gateway's address and key, the tool and
// the structured-output schema of tests/clients/shapes.py, and the one JSON line they print.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const [model, scenario, workdir] = process.argv.slice(2);
export const baseURL = process.env.GATEWAY_URL;
export const apiKey = process.env.GATEWAY_KEY;
if (!model || !scenario || !baseURL || !apiKey) {
  console.error('usage: GATEWAY_URL=... GATEWAY_KEY=... node SCRIPT MODEL SCENARIO [WORKDIR]');
  process.exit(2);
}
export const TIMEOUT_MS = 30_000;
export const PROMPT = 'Describe a person.';
export const FILE_PROMPT = 'create hello.txt containing hi';

export const WRITE_FILE = {
  name: 'write_file',
  description: 'Write content to the file at path (relative to the working directory).',
  parameters: {
    type: 'object',
    properties: { path: { type: 'string' }, content: { type: 'string' } },
    required: ['path', 'content'],
    additionalProperties: false,
  },
};

export function writeFile({ path, content }) {
  writeFileSync(join(workdir, path), content);
  return `wrote ${Buffer.byteLength(content)} bytes to ${path}`;
}

const address = {
  type: 'object',
  properties: { city: { type: 'string' }, zip_code: { type: 'string' } },
  required: ['city', 'zip_code'],
  additionalProperties: false,
};
export const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    age: { type: 'integer' },
    height_m: { type: 'number' },
    member: { type: 'boolean' },
    tags: { type: 'array', items: { type: 'string' } },
    color: { type: 'string', enum: ['red', 'green', 'blue'] },
    address,
  },
  required: ['name', 'age', 'height_m', 'member', 'tags', 'color', 'address'],
  additionalProperties: false,
};

export function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}

export async function main(scenarios) {
  const run = scenarios[scenario];
  if (!run) {
    console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(', ')}`);
    process.exit(2);
  }
  report(await run());
}
