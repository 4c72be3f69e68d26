// profile.mjs runs one row of a BenchmarkEngine scenario in V8 under V8's
// sampling profiler and prints where the time goes: self time by function
// (guest functions carry their Go names), and by part (the guest's Go
// runtime, its other code, this JavaScript host, V8 itself).
//
//   SCOPEGATE_BENCH_SCENARIO=/tmp/scenario.json go test -run TestV8HostRunsScopegate ./bench/
//   node --no-liftoff --wasm-max-mem-pages=16384 --stack-trace-limit=20 \
//        bench/v8/profile.mjs /tmp/scenario.json hit_browser [seconds] [top]
//
// The profile samples every 50 µs by default; a share under ~1 % is noise.

import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Host } from './proxywasm.mjs';

const [scenarioPath, rowName, seconds = '3', top = '40'] = process.argv.slice(2);
if (!scenarioPath || !rowName) {
  process.stderr.write('usage: profile.mjs scenario.json row [seconds] [top]\n');
  process.exit(2);
}
const scenario = JSON.parse(readFileSync(scenarioPath, 'utf8'));
const row = scenario.rows.find((r) => r.name === rowName);
if (row === undefined) throw new Error(`no row ${rowName}; rows: ${scenario.rows.map((r) => r.name).join(' ')}`);
if (!row.reuse && !row.cycle) throw new Error(`row ${rowName} needs a fresh token per request; profile a row that reuses its requests`);
const m = scenario.modules[row.module];
const host = await Host.load(readFileSync(m.path), { pluginConfig: m.pluginConfig ?? '' });
// A row with cycle (the flood's pool of forged tokens) sends its requests in turn.
let next = 0;
const nextRequest = row.cycle ? () => row.requests[next++ % row.requests.length] : () => row.requests[0];
const want = row.expect.continue ? 'continue' : row.expect.status;
const answer = (d) => (d.continue ? 'continue' : d.status);

// Warm up (V8 compiles each function when it first runs), then profile.
const warmUntil = performance.now() + 1000;
while (performance.now() < warmUntil) host.request(nextRequest());
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 50 });
await session.post('Profiler.start');
let n = 0;
const until = performance.now() + Number(seconds) * 1000;
// The clock is read every 64 requests, so that it stays out of the profile.
while (performance.now() < until) {
  for (let i = 0; i < 64; i++) {
    const d = host.request(nextRequest());
    if (answer(d) !== want) throw new Error(`answer ${answer(d)}, want ${want}`);
  }
  n += 64;
}
const { profile } = await session.post('Profiler.stop');

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const target = process.argv[6] ?? 'mallocgc';
const agg = new Map();
for (const n of profile.nodes) {
  if (!(n.hitCount > 0)) continue;
  if (!n.callFrame.functionName.includes(target)) continue;
  // walk up to the first non-runtime frame
  let id = parent.get(n.id); const chain = [];
  while (id !== undefined && chain.length < 6) { const p = byId.get(id); chain.push(p.callFrame.functionName); id = parent.get(id); }
  const key = chain.join(' < ');
  agg.set(key, (agg.get(key) ?? 0) + n.hitCount);
}
for (const [k, c] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(c, k);
