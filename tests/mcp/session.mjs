// `avo mcp` driven by the official MCP TypeScript SDK client (StdioClientTransport + Client)
// through whole sessions on the CPU example: list tools, read, a refused edit, an incorrect
// evaluation, a committed version, kill -9, a resumed session, the budget's refusal with the
// final measurement of the best against the original, and finish.
// usage: node session.mjs AVO SRC_DIR WORK_DIR      (exit 77: the SDK is not installed)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

let Client, StdioClientTransport;
try {
  ({ Client } = await import('@modelcontextprotocol/sdk/client/index.js'));
  ({ StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js'));
} catch (e) {
  console.log(`SKIP: @modelcontextprotocol/sdk is not installed (scripts/setup.sh installs it): ${e.message}`);
  process.exit(77);
}

const [AVO, SRC, WORK] = process.argv.slice(2);
const fail = (msg) => { console.error(`FAIL: ${msg}`); process.exit(1); };
const check = (cond, msg) => { if (!cond) fail(msg); };

// A copy of kernels/cpu whose region "scores" is computed six times over (same result):
// the edit that removes the repeat is several times faster, so it commits under any gate.
fs.rmSync(WORK, { recursive: true, force: true });
const K = path.join(WORK, 'kernel');
fs.mkdirSync(K, { recursive: true });
for (const f of ['attention.c', 'attention.h', 'harness.c', 'avo.json'])
  fs.copyFileSync(path.join(SRC, 'kernels/cpu', f), path.join(K, f));
const orig = fs.readFileSync(path.join(K, 'attention.c'), 'utf8');
const m = orig.match(/\/\/ avo:region scores\n([\s\S]*?)(\t*)\/\/ avo:end\n/);
check(m, 'kernels/cpu/attention.c has no region "scores"');
const fastScores = m[1], ind = m[2];
const slowScores = `${ind}for (volatile int rep = 0; rep < 6; rep++) {\n${fastScores}${ind}}\n`;
fs.writeFileSync(path.join(K, 'attention.c'), orig.replace(m[0], `// avo:region scores\n${slowScores}${ind}// avo:end\n`));
const SPEC = path.join(K, 'avo.json'), RUN = path.join(WORK, 'run');
const env = { ...process.env, AVO_CACHE_DIR: path.join(WORK, 'cache'), AVO_CACHE_REMOTE: '' };

const records = (f) => fs.existsSync(path.join(RUN, f))
  ? fs.readFileSync(path.join(RUN, f), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];

async function connect(extra = []) {
  const transport = new StdioClientTransport({
    command: AVO, args: ['mcp', SPEC, '--run-dir', RUN, ...extra], env, stderr: 'pipe',
  });
  let log = '';
  transport.stderr.on('data', (d) => { log += d; });
  const client = new Client({ name: 'avo-test', version: '1.0.0' });
  // Anything on stdout that is not a protocol message shows up here.
  client.onerror = (e) => fail(`client error: ${e.message}\nserver log:\n${log}`);
  await client.connect(transport);
  return { client, transport, log: () => log };
}

const text = (r) => r.content.map((c) => c.text).join('');
async function call(client, name, args = {}, wantError = false) {
  const r = await client.callTool({ name, arguments: args }, undefined, { timeout: 120000, onprogress: () => {} });
  check(!!r.isError === wantError, `${name}: isError ${!!r.isError}, expected ${wantError}:\n${text(r)}`);
  return text(r);
}

// The confirming gate re-measures a candidate that could win: 2 x 3 evaluations more.
const mcpAttempts = () => records('attempts.jsonl').filter((a) => a.operator === 'mcp');

// ---- session 1: read, refuse, evaluate, commit, disconnect ------------------------------
{
  const s = await connect(['--evals', '20', '--confirm', '2']);
  check(s.client.getServerCapabilities()?.tools, 'no tools capability');
  check(s.client.getServerVersion()?.name === 'avo', 'server name');
  check(typeof s.client.getInstructions() === 'string', 'no instructions');
  const tools = (await s.client.listTools()).tools.map((t) => t.name);
  for (const t of ['read_regions', 'read_kernel', 'read_lineage', 'read_knowledge', 'edit_region', 'set_knob',
    'evaluate', 'submit', 'status', 'list_attempts', 'read_version', 'checkout', 'finish', 'write_note', 'read_attempts'])
    check(tools.includes(t), `tools/list lacks ${t}: ${tools}`);

  let t = await call(s.client, 'status');
  check(/evaluations: 1 of 20 evaluations used/.test(t), `status after the baseline:\n${t}`);
  // A note is kept with the run (notes.jsonl): a later session reads it back (session 3).
  t = await call(s.client, 'write_note', { text: 'session-1 note: the repeat loop in scores is dead work' });
  check(/noted/.test(t), `write_note:\n${t}`);
  t = await call(s.client, 'read_attempts');
  check(/Your notes:\n- session-1 note/.test(t), `read_attempts in the session that wrote the note:\n${t}`);
  check(records('notes.jsonl').length === 1 && records('notes.jsonl')[0].operator === 'mcp', 'notes.jsonl after write_note');
  t = await call(s.client, 'read_kernel', { offset: 1, limit: 5 });
  check(/^\[lines 1-5 of \d+\]/.test(t) && /\[more: read_kernel with offset 6\]/.test(t), `paged read_kernel:\n${t}`);
  t = await call(s.client, 'read_regions');
  check(t.includes('=== region scores ===') && t.includes('volatile int rep'), `read_regions:\n${t}`);

  // Refused edits leave no attempt behind.
  t = await call(s.client, 'edit_region', { name: 'scores', text: fastScores + '}\n' }, true);
  check(/refused/.test(t), `a brace that escapes the region: ${t}`);
  t = await call(s.client, 'edit_region', { name: 'nosuch', text: '{}\n' }, true);
  t = await call(s.client, 'set_knob', { name: 'TILE_K', value: '7' }, true);
  let unknown = null;
  try { await s.client.callTool({ name: 'no_such_tool', arguments: {} }); } catch (e) { unknown = e; }
  check(unknown && unknown.code === -32602, `an unknown tool: ${unknown}`);
  check(records('attempts.jsonl').length === 1, 'a refused edit was recorded as an attempt');

  // An incorrect variant: evaluated, its feedback comes back, nothing is committed.
  const pv = (await call(s.client, 'read_regions')).match(/=== region pv ===\n([\s\S]*?)=== end ===/)[1];
  await call(s.client, 'edit_region', { name: 'pv', text: pv.replace('p * vj[c]', '2.0f * p * vj[c]') });
  t = await call(s.client, 'evaluate');
  check(/correct: no/.test(t) && /committed: no/.test(t), `an incorrect variant:\n${t}`);

  // The fast edit: restore pv, drop the repeat; committed as version 1.
  await call(s.client, 'edit_region', { name: 'pv', text: pv });
  await call(s.client, 'edit_region', { name: 'scores', text: fastScores });
  t = await call(s.client, 'submit', { note: 'compute the scores once' });
  check(/committed: yes/.test(t), `the fast variant was not committed:\n${t}\n${s.log()}`);
  t = await call(s.client, 'read_lineage');
  check(/version 1 \(parent 0, by mcp/.test(t), `read_lineage after the commit:\n${t}`);

  await s.client.close(); // end of input: the server stops
  const att = mcpAttempts(), lin = records('lineage.jsonl');
  check(att.length === 2, `mcp attempts after session 1: ${att.length}`);
  check(att[0].status === 'incorrect', `the incorrect attempt: ${JSON.stringify(att[0])}`);
  check(att[1].status === 'committed', `the fast attempt: ${JSON.stringify(att[1])}`);
  check(records('attempts.jsonl').some((a) => a.operator === 'gate'), 'no confirmation by the gate');
  check(lin.length === 2 && lin[1].operator === 'mcp' && /compute the scores once/.test(lin[1].note), 'lineage');
  check(!/volatile/.test(lin[1].edits.regions.scores ?? ''), 'the committed edit');
  // Time attribution per attempt: the evaluation's own seconds, and the client's time before it.
  for (const a of att)
    check(a.eval_s > 0 && a.operator_s >= 0, `mcp attempt without eval_s/operator_s: ${JSON.stringify(a)}`);
  for (const a of records('attempts.jsonl').filter((x) => x.operator === 'gate'))
    check(a.eval_s > 0 && a.operator_s === undefined, `gate attempt: ${JSON.stringify(a)}`);
  console.log(`session 1 ok: ${records('attempts.jsonl').length} attempts, version 1 committed`);
}

// ---- session 2: killed (-9) in the middle; nothing recorded is lost -------------------
const before = records('attempts.jsonl').length;
{
  const s = await connect(['--evals', '20']);
  await call(s.client, 'set_knob', { name: 'UNROLL', value: '4' });
  process.kill(s.transport.pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  check(records('attempts.jsonl').length === before && records('lineage.jsonl').length === 2, 'records after kill -9');
  console.log('session 2 ok: killed, records intact');
}

// ---- session 3: resumed; the memory is on disk; the budget refuses ----------------------
{
  const s = await connect(['--evals', String(before + 1), '--confirm', '2']);
  let t = await call(s.client, 'status');
  check(/best: version 1/.test(t) && t.includes(`evaluations: ${before} of ${before + 1} evaluations used`),
    `status after resume:\n${t}`);
  t = await call(s.client, 'list_attempts', { last: 100 });
  check(t.includes(`${before} attempts`) && /attempt \d+ by mcp: incorrect/.test(t) && /attempt \d+ by mcp: committed/.test(t)
    && /by gate/.test(t), `list_attempts after resume:\n${t}`);
  t = await call(s.client, 'list_attempts', { n: 2 });
  check(/feedback:/.test(t), `one attempt in full:\n${t}`);
  t = await call(s.client, 'read_attempts');
  check(/notes from earlier sessions of this run \(1\):\n- session-1 note: the repeat loop/.test(t), `the note after resume:\n${t}`);
  t = await call(s.client, 'read_version', { id: 1, limit: 400 });
  check(!/volatile/.test(t) && /\[lines 1-/.test(t), 'read_version 1');
  t = await call(s.client, 'read_version', { id: 0, limit: 400 });
  check(/volatile/.test(t), 'read_version 0');
  await call(s.client, 'read_version', { id: 9 }, true);

  // One evaluation is left: a knob change is measured (not confirmed: no budget), then refused.
  // That evaluation spends the budget of a run with a commit: the final measurement of the
  // best against the original runs inside it (as avo tune's end), and its answer says so.
  await call(s.client, 'set_knob', { name: 'UNROLL', value: '4' });
  t = await call(s.client, 'evaluate');
  check(/correct: yes/.test(t), `the UNROLL=4 variant:\n${t}`);
  check(/The budget is now spent\. final measurement, interleaved on the same device: version 1 is .* the speed of the original/.test(t),
    `no final measurement when the budget was spent:\n${t}`);
  await call(s.client, 'checkout', { id: 0 });
  t = await call(s.client, 'read_regions');
  check(/volatile int rep/.test(t), 'checkout 0');
  await call(s.client, 'set_knob', { name: 'TILE_Q', value: '8' });
  t = await call(s.client, 'evaluate', {}, true);
  check(/refused: evaluation budget reached/.test(t), `the budget did not refuse:\n${t}`);
  t = await call(s.client, 'status');
  check(/evaluate: refused/.test(t), `status after the refusal:\n${t}`);
  await call(s.client, 'read_kernel', { offset: 10, limit: 3 });
  await s.client.close();
  const att = records('attempts.jsonl');
  check(att.length === before + 1 && att[before].operator === 'mcp', `attempts after session 3: ${att.length}`);
  const run = JSON.parse(fs.readFileSync(path.join(RUN, 'run.json'), 'utf8'));
  check(run.attempts === before + 1 && run.stop_reason === 'evaluation budget reached', `run.json: ${JSON.stringify(run)}`);
  check(run.speedup && run.speedup.value > 1, `run.json has no final speedup: ${JSON.stringify(run)}`);
  console.log('session 3 ok: resumed, budget refused, final measurement recorded');
}

// ---- session 4: the client ends the run itself with finish ------------------------------
{
  const s = await connect(['--evals', '100', '--confirm', '2']);
  check((await s.client.listTools()).tools.some((x) => x.name === 'finish'), 'tools/list lacks finish');
  let t = await call(s.client, 'finish');
  check(/final measurement, interleaved on the same device: version 1 is/.test(t) && /evaluate is refused/.test(t),
    `finish:\n${t}`);
  t = await call(s.client, 'evaluate', {}, true);
  check(/refused: the run was finished/.test(t), `evaluate after finish:\n${t}`);
  t = await call(s.client, 'finish');
  check(/already finished/.test(t), `a second finish:\n${t}`);
  await s.client.close();
  const run = JSON.parse(fs.readFileSync(path.join(RUN, 'run.json'), 'utf8'));
  check(run.speedup && run.speedup.value > 1 && /finished/.test(run.stop_reason), `run.json after finish: ${JSON.stringify(run)}`);
  console.log('session 4 ok: finish measured the best and ended the run');
}

// The report reads the run like any other.
const rep = spawnSync(AVO, ['status', SPEC, '--run-dir', RUN], { env, encoding: 'utf8' });
check(rep.status === 0 && /mcp/.test(rep.stdout + rep.stderr), `avo status:\n${rep.stdout}${rep.stderr}`);
console.log('ok');
