package host

import (
	"context"
	"io"
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
