//go:build !wasip1

package abi

import "time"

// Now returns the wall-clock time (on wasip1, with one host call instead of
// time.Now's two).
func Now() time.Time { return time.Now() }
