package host

import (
	"context"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/syncbuf"
)

// TestPluginLogLinesCarryEnvoysPrefix: Envoy writes a plugin's proxy_log as
// "wasm log<prefix>: <message>", the prefix being proxy-wasm-cpp-host's
// " <name> <root_id> <vm_id>" for a stream context and " <root_id> <vm_id>"
// for the root context, empty parts left out. The host writes the same, so a
// grep written for Envoy's log works on the local proxy's.
func TestPluginLogLinesCarryEnvoysPrefix(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		plugin, root, vm     string
		wantRoot, wantStream string
	}{
		{"name, root_id and vm_id, as envoy/envoy.yaml sets them", "scopegate", "scopegate", "scopegate",
			"][info][wasm] wasm log scopegate scopegate: pass configured: x\n",
			"][info][wasm] wasm log scopegate scopegate scopegate: on_log "},
		{"Istio's naming: <namespace>.<name>, no root_id or vm_id", "orders.scopegate", "", "",
			"][info][wasm] wasm log: pass configured: x\n",
			"][info][wasm] wasm log orders.scopegate: on_log "},
		{"a root_id without a vm_id", "p", "r", "",
			"][info][wasm] wasm log r: pass configured: x\n",
			"][info][wasm] wasm log p r: on_log "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var log syncbuf.Buffer
			h, err := New(context.Background(), Config{Module: buildGuest(t, "pass"), PluginConfig: []byte("x"),
				PluginName: tc.plugin, RootID: tc.root, VMID: tc.vm, Log: &log})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			if _, err := h.Do(context.Background(), Request{Path: "/p"}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tc.wantRoot, tc.wantStream} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %q:\n%s", want, log.String())
				}
			}
		})
	}
}
