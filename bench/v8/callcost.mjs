// callcost.mjs measures what one host call costs in proxywasm.mjs, as
// host.BenchmarkHostCall does for the Go host: the callloop guest
// (host/testdata/guests/callloop) repeats one proxy-wasm call in a loop
// inside on_request_headers, and the time of a request is divided by its
// calls. "floor" is the same loop over a proxy-wasm import that does nothing.
// bench/engine_test.go (BenchmarkV8HostCall) runs it:
//
//   node --no-liftoff --wasm-max-mem-pages=16384 --stack-trace-limit=20 \
//        bench/v8/callcost.mjs callloop.wasm [calls per request] [rounds]
//
// Output (JSON): {"rows": [{"name", "medianNs"}]}, the median over rounds.

import { readFileSync } from 'node:fs';
import { Host } from './proxywasm.mjs';

const [path, callsArg = '20000', roundsArg = '7'] = process.argv.slice(2);
const calls = Number(callsArg), rounds = Number(roundsArg);
const bytes = readFileSync(path);

// The kinds of callloop_run, by the name BenchmarkHostCall gives them.
const kinds = [
  ['floor', 1, true], ['proxy_done', 1], ['proxy_get_log_level', 2], ['proxy_get_header_map_value', 3],
  ['proxy_get_header_map_value_absent', 4], ['proxy_replace_header_map_value', 5],
  ['proxy_remove_header_map_value_absent', 6], ['proxy_get_header_map_pairs', 10],
  ['proxy_increment_metric', 7], ['proxy_log', 8], ['proxy_get_current_time_nanoseconds', 9],
];
const host = await Host.load(bytes, {});
const bare = await Host.load(bytes, { bareEnv: true });

// The request of host/callcost_test.go's callLoopRequest.
const request = (kind) => ({
  method: 'GET', path: '/orders/42', authority: 'api.example.com', headers: [
    ['user-agent', 'bench/1.0'], ['accept', 'application/json'], ['x-request-id', '0f4c2a9b'],
    ['authorization', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl'],
    ['x-loop', `${kind} ${calls}`]],
});
// The floor calls callloop_run directly (no stream: the bare imports
// answer nothing), as BenchmarkHostCall's floor does in a bare wazero.
const run = (r) => {
  if (r.bare) {
    if (bare.worker.exports.callloop_run(r.kind, calls) !== 0) throw new Error('floor: calls failed');
    return;
  }
  const d = host.request(r.req);
  if (!d.continue) throw new Error(`${r.name}: ${d.status} ${d.body}`);
};
const rows = kinds.map(([name, kind, isBare]) => ({ name, kind, bare: isBare === true, req: request(kind), times: [] }));
for (let round = -2; round < rounds; round++) { // two rounds of warm-up
  for (const r of rows) {
    const t0 = process.hrtime.bigint();
    run(r);
    const ns = Number(process.hrtime.bigint() - t0) / calls;
    if (round >= 0) r.times.push(ns);
  }
}
for (const h of [host, bare]) {
  if (h.violations.length > 0 || h.traps > 0) throw new Error(`violations ${JSON.stringify(h.violations)}, traps ${h.traps}`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
process.stdout.write(JSON.stringify({ rows: rows.map((r) => ({ name: r.name, medianNs: median(r.times) })) }) + '\n');
