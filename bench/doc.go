// Package bench holds scopegate's performance measurements (issue #7): the
// compiled filter in the wazero host against the host's floor (a
// pass-through module) and against a bare signature check in the same
// runtime, end-to-end runs through the local proxy over loopback HTTP,
// memory after long runs, and module size and cold start. Everything is in
// _test.go files; `make bench` runs it and BENCHMARKS.md keeps the table.
// The only part that runs in `make test` is TestMemoryBounded.
package bench
