// bench.mjs times requests through modules hosted by proxywasm.mjs in
// Node's V8, run with Envoy's V8 settings. bench/engine_test.go writes the
// scenario and runs it; see docs/performance.md.
//
//   node --no-liftoff --wasm-max-mem-pages=16384 --stack-trace-limit=20 \
//        bench/v8/bench.mjs scenario.json
//
// Scenario: {"rounds", "warmupMs", "batchMs", "modules": {name: {"path",
// "pluginConfig"}}, "rows": [{"name", "module", "requests": [...],
// "reuse": bool, "cycle": bool, "batch": n, "warmupBatches": n, "expect":
// {"continue": true} | {"status": n}}]}. A row named "floor" is the
// baseline.
//
// A row with reuse sends its one request again and again; its batch size
// is calibrated during warm-up so a batch lasts about batchMs. A row with
// cycle (a pool of forged tokens) sends its requests in turn, round and
// round, its batches sized the same way. Any other row (cache misses: a
// fresh token per request) takes its requests in order, "batch" of them
// per batch, after warmupBatches batches of warm-up. Rounds interleave
// the rows (round 1: every row's batch, round 2: ...), so load on a shared
// machine hits all rows alike.
// Every answer is checked against the row's "expect"; a wrong one stops
// the run.
//
// Output (JSON): per row the median, mean, min and max of the per-request
// time over the rounds' batches, and pairedRatio: the median over rounds
// of (this row's batch time / the floor's batch time in the same round),
// and hostCalls: the host calls one more request of the row made, by name
// (after the timing; a miss row keeps its last token for this); per module
// its host's violations, traps and metrics.

import { readFileSync } from 'node:fs';
import { Host } from './proxywasm.mjs';

// Envoy's V8 flags (proxy-wasm-cpp-host src/v8/v8.cc): the measurement only
// means something with them.
const envoyFlags = ['--no-liftoff', '--wasm-max-mem-pages=16384', '--stack-trace-limit=20'];
const missing = envoyFlags.filter((f) => !process.execArgv.includes(f));
if (missing.length > 0) {
  process.stderr.write(`bench.mjs: run node with Envoy's V8 flags; missing ${missing.join(' ')}\n`);
  process.exit(2);
}

const scenario = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const hosts = {};
for (const [name, m] of Object.entries(scenario.modules)) {
  hosts[name] = await Host.load(readFileSync(m.path), { pluginConfig: m.pluginConfig ?? '' });
}

function check(row, d) {
  const want = row.expect;
  const ok = want.continue ? d.continue === true : d.continue === false && d.status === want.status;
  if (!ok) {
    const vm = row.host.worker;
    const why = vm.failed ? `; the VM failed: ${vm.failReason}; last log lines: ${row.host.logs.slice(-5).map((e) => e.message).join(' | ')}` : '';
    throw new Error(`row ${row.name}: answer ${d.continue ? 'continue' : d.status} (${d.body ?? ''}), want ${JSON.stringify(want)}${why}`);
  }
}

// Each row keeps its host, its position in its request list, and its batch times.
const rows = scenario.rows.map((r) => ({ ...r, host: hosts[r.module], next: 0, perRequest: [] }));

// runBatch sends n requests of a row and returns nanoseconds per request.
function runBatch(row, n) {
  const host = row.host;
  let d;
  const t0 = process.hrtime.bigint();
  if (row.reuse) {
    const req = row.requests[0];
    for (let i = 0; i < n; i++) {
      d = host.request(req);
      if (d.continue !== row.expectContinue) check(row, d);
    }
  } else if (row.cycle) {
    const reqs = row.requests;
    for (let i = 0; i < n; i++) {
      d = host.request(reqs[row.next++ % reqs.length]);
      if (d.continue !== row.expectContinue) check(row, d);
    }
  } else {
    for (let i = 0; i < n; i++) {
      d = host.request(row.requests[row.next++]);
      if (d.continue !== row.expectContinue) check(row, d);
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  check(row, d);
  return ns / n;
}

// Warm-up: every function V8 compiles lazily gets compiled, caches fill,
// and reused rows get a batch size worth about batchMs.
for (const row of rows) {
  row.expectContinue = row.expect.continue === true;
  if (row.reuse || row.cycle) {
    check(row, row.host.request(row.requests[0]));
    let n = 1, spent = 0, best = Infinity;
    const deadline = scenario.warmupMs * 1e6;
    while (spent < deadline) {
      const per = runBatch(row, n);
      best = Math.min(best, per);
      spent += per * n;
      n = Math.min(n * 2, 1 << 16);
    }
    // The fastest batch sizes it: a slow one only saw the machine's load.
    row.batch = Math.max(1, Math.round((scenario.batchMs * 1e6) / best));
  } else {
    const need = (row.warmupBatches + scenario.rounds) * row.batch;
    if (row.requests.length < need) throw new Error(`row ${row.name}: ${row.requests.length} requests, need ${need}`);
    for (let i = 0; i < row.warmupBatches; i++) runBatch(row, row.batch);
  }
}

const floor = rows.find((r) => r.name === 'floor');
if (floor === undefined) throw new Error('the scenario has no "floor" row');
const paired = new Map(rows.map((r) => [r, []]));
for (let round = 0; round < scenario.rounds; round++) {
  const fl = runBatch(floor, floor.batch);
  floor.perRequest.push(fl);
  for (const row of rows) {
    if (row === floor) continue;
    const t = runBatch(row, row.batch);
    row.perRequest.push(t);
    paired.get(row).push(t / fl);
  }
}

// What one request of each row asks of the host (counted outside the timing).
for (const row of rows) {
  const req = row.reuse || row.cycle ? row.requests[0] : row.requests[row.requests.length - 1];
  row.hostCalls = row.host.countCalls(() => check(row, row.host.request(req)));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const out = {
  node: process.version,
  v8: process.versions.v8,
  flags: process.execArgv,
  rows: rows.map((r) => ({
    name: r.name,
    batch: r.batch,
    rounds: r.perRequest.length,
    medianNs: median(r.perRequest),
    meanNs: r.perRequest.reduce((a, b) => a + b, 0) / r.perRequest.length,
    minNs: Math.min(...r.perRequest),
    maxNs: Math.max(...r.perRequest),
    pairedRatio: r === floor ? 1 : median(paired.get(r)),
    hostCalls: r.hostCalls,
  })),
  modules: Object.fromEntries(Object.entries(hosts).map(([name, h]) => [name, {
    violations: h.violations,
    traps: h.traps,
    metrics: Object.fromEntries([...h.metrics.byName.keys()].map((m) => [m, h.metric(m)])),
  }])),
};
process.stdout.write(JSON.stringify(out) + '\n');
