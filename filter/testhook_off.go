//go:build !scopegate_testhooks

package filter

// testPanicHook is a no-op in real builds; see testhook_on.go.
func testPanicHook() {}
