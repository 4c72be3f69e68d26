// Package bench holds scopegate's performance measurements (issues #7 and
// #15): the compiled filter in the wazero host against the host's floor (a
// pass-through module) and against a bare signature check in the same
// runtime, the same requests in V8 (Node's, with Envoy's V8 flags, under the
// proxy-wasm host in bench/v8) beside wazero, end-to-end runs through the
// local proxy over loopback HTTP, memory after long runs, and module size
// and cold start. Everything is in _test.go files; `make bench` runs it and
// BENCHMARKS.md keeps the table. `make test` runs only its tests: memory
// stays bounded, the request path imports no fmt/encoding/json/reflect/log,
// and the V8 host answers like the Go host (TestV8Host*).
package bench
