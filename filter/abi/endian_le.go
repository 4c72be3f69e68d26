//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm

package abi

// littleEndian: header map sizes (little-endian u32s) can be loaded as
// they lie in memory.
const littleEndian = true
