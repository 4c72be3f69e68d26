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

// Self samples by function, and by part.
const selfByFn = new Map();
const byPart = new Map();
let total = 0;
const hits = new Map(profile.nodes.map((node) => [node.id, node.hitCount ?? 0]));
for (const node of profile.nodes) {
  const count = hits.get(node.id);
  if (!count) continue;
  const f = node.callFrame;
  const name = f.functionName || `(${f.url ? f.url.split('/').pop() : 'anonymous'})`;
  const part = partOf(f, name);
  if (part === 'idle') continue;
  total += count;
  const key = `${name}\t${part}`;
  selfByFn.set(key, (selfByFn.get(key) ?? 0) + count);
  byPart.set(part, (byPart.get(part) ?? 0) + count);
}

function partOf(f, name) {
  if (name === '(idle)' || name === '(program)') return name === '(idle)' ? 'idle' : 'V8 and Node';
  if (name === '(garbage collector)') return 'V8 garbage collector';
  if (f.url.startsWith('wasm://') || f.url === '') {
    // Go's names, with / and . of the package path spelled _ in the wasm name section.
    if (/^(runtime[._]|internal_runtime_|internal_abi|sync[._]|gcWriteBarrier|wasm_pc_f_loop|memeqbody|cmpbody|memmove|memclr|memhash)/.test(name)) {
      return 'guest: Go runtime';
    }
    if (f.url.startsWith('wasm://')) return 'guest: other Go code';
    return 'V8 and Node';
  }
  if (f.url.endsWith('proxywasm.mjs')) return 'JavaScript host';
  return 'V8 and Node';
}

const us = (samples) => ((samples / total) * (Number(seconds) * 1e6 / n)).toFixed(2);
const pct = (samples) => ((100 * samples) / total).toFixed(1);
const lines = [];
lines.push(`${rowName}: ${n} requests in ${seconds} s, ${(Number(seconds) * 1e6 / n).toFixed(2)} µs each (profiler on), ${total} samples`);
lines.push('');
lines.push('| part | share | µs per request |');
lines.push('|---|---:|---:|');
for (const [part, c] of [...byPart].sort((a, b) => b[1] - a[1])) lines.push(`| ${part} | ${pct(c)} % | ${us(c)} |`);
lines.push('');
lines.push('| function (self time) | part | share | µs per request |');
lines.push('|---|---|---:|---:|');
for (const [key, c] of [...selfByFn].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) {
  const [name, part] = key.split('\t');
  lines.push(`| \`${name}\` | ${part} | ${pct(c)} % | ${us(c)} |`);
}
process.stdout.write(lines.join('\n') + '\n');
