// Type-check the LLM requests that avo sent to tests/agent/mock_llm.py against the request
// types of the official SDKs (npm openai and @anthropic-ai/sdk): each recorded body becomes
// an object literal assigned to the SDK's create-params type, so a missing field, a wrong
// type or a field the API does not know fails tsc (excess property checks).
// usage: node check.mjs REQUESTS.jsonl WORK_DIR     exit 0 ok, 1 type errors, 77 no SDKs
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(here, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc) || !existsSync(join(here, "node_modules", "openai")) ||
    !existsSync(join(here, "node_modules", "@anthropic-ai", "sdk"))) {
  console.error(`SDKs not installed (run npm ci in ${here}): skipping`);
  process.exit(77);
}
const [log, work] = process.argv.slice(2);
const types = {
  "/chat/completions": "OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming",
  "/responses": "OpenAI.Responses.ResponseCreateParamsNonStreaming",
  "/v1/messages": "Anthropic.Messages.MessageCreateParamsNonStreaming",
};
const lines = readFileSync(log, "utf8").split("\n").filter((l) => l.trim());
let src = 'import type OpenAI from "openai";\nimport type Anthropic from "@anthropic-ai/sdk";\n\n';
let n = 0;
for (const line of lines) {
  const rec = JSON.parse(line);
  const kind = Object.keys(types).find((p) => rec.path.endsWith(p));
  if (!kind || !rec.body) {
    console.error(`request ${rec.n}: no SDK type for ${rec.path}`);
    process.exit(1);
  }
  src += `// request ${rec.n}: POST ${rec.path}\nexport const r${rec.n}: ${types[kind]} = ${JSON.stringify(rec.body, null, 1)};\n\n`;
  n++;
}
mkdirSync(work, { recursive: true });
writeFileSync(join(work, "requests.ts"), src);
writeFileSync(join(work, "tsconfig.json"), JSON.stringify({
  compilerOptions: {
    strict: true, noEmit: true, skipLibCheck: true, target: "es2022", module: "esnext",
    moduleResolution: "bundler", baseUrl: here, paths: { "*": ["node_modules/*", "node_modules/@types/*"] },
    types: [],
  },
  files: ["requests.ts"],
}));
const r = spawnSync(process.execPath, [tsc, "-p", join(work, "tsconfig.json")], { stdio: "inherit" });
if (r.status !== 0) {
  console.error(`tsc found type errors in ${join(work, "requests.ts")}`);
  process.exit(1);
}
console.log(`${n} requests match the SDK request types`);
