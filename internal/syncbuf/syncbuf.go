// Package syncbuf provides a byte buffer that several goroutines may write
// to at once. Tests hand it to code that logs from its own goroutines (the
// wasm host's workers, the demo's servers, a child process's stderr copier)
// and read it back while that code may still be running.
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use; the zero value is ready.
// A plain bytes.Buffer would race when a test reads logs that a worker
// goroutine is still appending to.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p under the lock, so concurrent writes never interleave
// within one call.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns a copy of everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
