//go:build scopegate_testhooks

package filter

import "github.com/scopegate/scopegate/filter/abi"

// testPanicHook panics when the request carries x-scopegate-test-panic, so
// tests of the binding and the host can prove that a guest panic in
// on_request_headers is survived (only built with -tags scopegate_testhooks).
func testPanicHook() {
	if v, err := abi.GetHttpRequestHeader("x-scopegate-test-panic"); err == nil {
		panic("scopegate: test panic requested: " + v)
	}
}
