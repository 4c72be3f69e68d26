// run.mjs runs one job through the proxy-wasm host in proxywasm.mjs and
// prints what happened as JSON, for the Go tests that hold this host to the
// Go host's behaviour (bench/v8host_test.go).
//
//   node --no-liftoff bench/v8/run.mjs < job.json
//
// The job: {"module": path, "pluginConfig": string, "vmConfig": string,
// "logLevel": n, "pollOneoff": "enosys"|"no-events", "verifySignature":
// "present"|"absent", "clusters": {name:
// {path or "*": {"status", "headers", "body"} | null}}, "steps": [{"request":
// {method, path, authority, scheme, headers, body}} | {"tick": true}],
// "metrics": [names]}. The answer: {"loadError"} or {"decisions",
// "violations", "traps", "metrics", "logs", "callouts"}.

import { readFileSync } from 'node:fs';
import { Host } from './proxywasm.mjs';

const job = JSON.parse(readFileSync(0, 'utf8'));
const clusters = {};
for (const [name, answers] of Object.entries(job.clusters ?? {})) {
  clusters[name] = (headers) => {
    const path = headers.find(([k]) => k === ':path')?.[1] ?? '';
    return answers[path.split('?')[0]] ?? answers['*'] ?? null;
  };
}

let host;
try {
  host = await Host.load(readFileSync(job.module), {
    pluginConfig: job.pluginConfig ?? '',
    vmConfig: job.vmConfig ?? '',
    logLevel: job.logLevel,
    pollOneoff: job.pollOneoff,
    verifySignature: job.verifySignature,
    clusters,
  });
} catch (err) {
  process.stdout.write(JSON.stringify({ loadError: err.message }) + '\n');
  process.exit(0);
}

const decisions = [];
for (const step of job.steps ?? []) {
  if (step.tick) {
    host.tick();
    continue;
  }
  decisions.push(host.request(step.request));
}
const metrics = {};
for (const name of job.metrics ?? []) {
  const v = host.metric(name);
  if (v !== undefined) metrics[name] = v;
}
process.stdout.write(JSON.stringify({
  decisions,
  violations: host.violations,
  traps: host.traps,
  callouts: host.callouts,
  metrics,
  logs: host.logs,
}) + '\n');
