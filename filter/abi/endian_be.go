//go:build !(386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm)

package abi

// littleEndian is false on big-endian machines: header map sizes are
// decoded byte by byte there.
const littleEndian = false
