//go:build wasip1

// Command badimport imports a WASI function Envoy does not provide
// (fd_filestat_get, which os.ReadFile needs), so it must fail to load.
package main

import (
	"unsafe"

	_ "github.com/scopegate/scopegate/host/testdata/guests/guestabi"
)

//go:wasmimport wasi_snapshot_preview1 fd_filestat_get
func fdFilestatGet(fd uint32, buf unsafe.Pointer) uint32

var sink uint32

func main() {}

//go:wasmexport badimport_probe
func probe() {
	var buf [64]byte
	sink = fdFilestatGet(3, unsafe.Pointer(&buf[0]))
}
