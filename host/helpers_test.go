package host

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// buildGuest compiles host/testdata/guests/<name> once per process.
func buildGuest(t testing.TB, name string) string {
	t.Helper()
	path, err := wasmbuild.Build("./host/testdata/guests/"+name, wasmbuild.Options{NoOverlay: true})
	if err != nil {
		t.Fatalf("building guest %s: %v", name, err)
	}
	return path
}

// syncBuffer is a goroutine-safe log sink for tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestHost starts a host for a guest and closes it when the test ends.
func newTestHost(t testing.TB, guest string, mutate func(*Config)) *Host {
	t.Helper()
	cfg := Config{Module: buildGuest(t, guest), PluginName: "testguest", Log: io.Discard}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", guest, err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

func header(m [][2]string, key string) string { return headerValue(m, key) }
