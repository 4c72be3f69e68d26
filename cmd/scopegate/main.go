// Command scopegate is the proxy-wasm module: build it with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared (see `make wasm`).
package main

import (
	"github.com/scopegate/scopegate/filter"
	"github.com/scopegate/scopegate/filter/abi"
)

// init only registers the VM context: during _initialize no proxy call but
// proxy_log is allowed (Envoy traps the VM otherwise).
func init() { abi.SetVMContext(wrapVM(filter.NewVMContext())) }

// main is never called in a c-shared (reactor) module; the host drives the exports.
func main() {}
