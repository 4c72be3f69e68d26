package host

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/syncbuf"
)

func TestLoadRejectsImportsEnvoyDoesNotProvide(t *testing.T) {
	_, err := New(context.Background(), Config{Module: buildGuest(t, "badimport"), Log: testLog(t)})
	if err == nil {
		t.Fatal("New succeeded for a module importing fd_filestat_get")
	}
	if !strings.Contains(err.Error(), "wasi_snapshot_preview1.fd_filestat_get") || !strings.Contains(err.Error(), "Envoy does not provide") {
		t.Fatalf("error %q does not name the import", err)
	}
}

func TestLoadRejectsProxyCallsDuringInitialize(t *testing.T) {
	var log syncbuf.Buffer
	_, err := New(context.Background(), Config{Module: buildGuest(t, "initcall"), Log: &log})
	if err == nil {
		t.Fatal("New succeeded for a module calling proxy_define_metric in init()")
	}
	if !strings.Contains(err.Error(), "env.proxy_define_metric called during _initialize") {
		t.Fatalf("error %q does not name the restricted call", err)
	}
	// The host's own message carries the plugin name, not the plugin-log
	// prefix "wasm log …:" (that is for what the plugin logs).
	if !strings.Contains(log.String(), "][error][wasm] scopegate: Envoy rule violation: "+RuleInitCall) {
		t.Fatalf("violation not logged:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "][info][wasm] wasm log: init may log\n") {
		t.Errorf("proxy_log during init should be allowed and logged:\n%s", log.String())
	}
}

func TestLoadRejectsFailingOnConfigure(t *testing.T) {
	_, err := New(context.Background(), Config{Module: buildGuest(t, "pass"), PluginConfig: []byte("reject"), Log: testLog(t)})
	if !errors.Is(err, ErrConfigureRejected) || !strings.Contains(err.Error(), "proxy_on_configure returned false") {
		t.Fatalf("err = %v, want on_configure rejection", err)
	}
}

func TestLoadRejectsNonProxyWasmModules(t *testing.T) {
	// The smallest valid wasm module: magic and version only.
	_, err := New(context.Background(), Config{ModuleBytes: []byte("\x00asm\x01\x00\x00\x00"), Log: testLog(t)})
	if err == nil || !strings.Contains(err.Error(), "proxy_abi_version") {
		t.Fatalf("err = %v, want a missing ABI marker error", err)
	}
}

func TestSleepingGuestDiesOnENOSYS(t *testing.T) {
	ctx := context.Background()
	t.Run("with poll_oneoff answering ENOSYS the VM traps and fails closed", func(t *testing.T) {
		h := newTestHost(t, "sleep", nil)
		d, err := h.Do(ctx, Request{Path: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Continue || d.Status != 503 {
			t.Fatalf("decision = %+v, want 503", d)
		}
		if h.Traps() != 1 {
			t.Fatalf("Traps = %d, want 1", h.Traps())
		}
		if !logsContain(h, "poll_oneoff") {
			t.Errorf("the Go runtime's poll_oneoff failure is not in the logs: %+v", h.Logs())
		}
		d, _ = h.Do(ctx, Request{Path: "/"})
		if d.Status != 503 {
			t.Fatalf("later request on the failed VM = %+v, want 503", d)
		}
	})
	t.Run("with poll_oneoff answering no events the same guest works", func(t *testing.T) {
		h := newTestHost(t, "sleep", func(c *Config) { c.PollOneoff = PollOneoffNoEvents })
		d, err := h.Do(ctx, Request{Path: "/"})
		if err != nil {
			t.Fatal(err)
		}
		if !d.Continue || h.Traps() != 0 {
			t.Fatalf("decision = %+v, traps %d, want continue and no trap", d, h.Traps())
		}
	})
}

func TestPanickingGuestFailsClosed(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t, "panic", func(c *Config) { c.Workers = 2 })
	d, err := h.DoOn(ctx, 0, Request{Path: "/"})
	if err != nil || !d.Continue {
		t.Fatalf("before the panic: %+v, %v", d, err)
	}
	d, _ = h.DoOn(ctx, 0, Request{Path: "/", Headers: [][2]string{{"x-panic", "1"}}})
	if d.Status != 503 {
		t.Fatalf("the panicking request = %+v, want 503", d)
	}
	if h.Traps() != 1 || !logsContain(h, "Plugin Crash") {
		t.Fatalf("Traps = %d; want the trap reported", h.Traps())
	}
	d, _ = h.DoOn(ctx, 0, Request{Path: "/"})
	if d.Status != 503 {
		t.Fatalf("a later request on the trapped worker = %+v, want 503", d)
	}
	d, _ = h.DoOn(ctx, 1, Request{Path: "/"})
	if !d.Continue {
		t.Fatalf("the other worker = %+v, want it still serving", d)
	}
}

func TestHTTPCallRules(t *testing.T) {
	ctx := context.Background()
	h := newTestHost(t, "badcluster", func(c *Config) { c.Clusters = map[string]string{"backend": "http://127.0.0.1:1"} })
	cases := []struct {
		name    string
		headers [][2]string
		detail  string
	}{
		{"a cluster the proxy does not know is rejected", nil, `unknown cluster "nowhere"`},
		{"a callout without :authority is rejected", [][2]string{{"x-no-authority", "1"}}, "missing :authority"},
		{"a callout without a timeout is rejected", [][2]string{{"x-no-timeout", "1"}}, "no timeout"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := h.Do(ctx, Request{Path: "/", Headers: c.headers})
			if err != nil {
				t.Fatal(err)
			}
			if string(d.Body) != "http call status 2" {
				t.Fatalf("guest saw %q, want BAD_ARGUMENT (2)", d.Body)
			}
			vs := h.Violations()
			if len(vs) != i+1 || vs[i].Rule != RuleHTTPCall || !strings.Contains(vs[i].Detail, c.detail) {
				t.Fatalf("violations = %v, want %q", vs, c.detail)
			}
		})
	}
	if h.CalloutCount() != 0 {
		t.Errorf("CalloutCount = %d, want 0", h.CalloutCount())
	}
}

func logsContain(h *Host, s string) bool {
	for _, e := range h.Logs() {
		if strings.Contains(e.Message, s) {
			return true
		}
	}
	return false
}

// testLog sends host log lines to the test log when -v is set.
func testLog(t testing.TB) *syncbuf.Buffer {
	b := &syncbuf.Buffer{}
	t.Cleanup(func() {
		if testing.Verbose() {
			os.Stderr.WriteString(b.String())
		}
	})
	return b
}

func TestAllocatorRestrictions(t *testing.T) {
	h := newTestHost(t, "alloccall", nil)
	d, err := h.Do(context.Background(), Request{Path: "/p"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != 503 || h.Traps() != 1 {
		t.Fatalf("decision = %+v, traps = %d; want 503 and a trap", d, h.Traps())
	}
	vs := h.Violations()
	if len(vs) != 1 || vs[0].Rule != RuleAllocatorCall || !strings.Contains(vs[0].Detail, "env.proxy_get_property") {
		t.Fatalf("violations = %v, want one %s naming proxy_get_property", vs, RuleAllocatorCall)
	}
}

// DESIGN §2.7: Envoy may call on_log before or after on_done, so the host
// alternates the order from stream to stream (a guest must not rely on it).
func TestStreamEndsAlternateOnLogAndOnDone(t *testing.T) {
	h := newTestHost(t, "pass", nil)
	for i := 0; i < 4; i++ {
		if _, err := h.Do(context.Background(), Request{Method: "GET", Path: "/"}); err != nil {
			t.Fatal(err)
		}
	}
	var order []string // the first of on_log/on_done for each stream (numeric ids only)
	seen := map[string]bool{}
	for _, e := range h.Logs() {
		kind, id, ok := strings.Cut(e.Message, " ")
		if !ok || (kind != "on_log" && kind != "on_done") || seen[id] || strings.Trim(id, "0123456789") != "" {
			continue
		}
		seen[id] = true
		order = append(order, kind)
	}
	if len(order) != 4 {
		t.Fatalf("saw %d stream ends, want 4: %v", len(order), order)
	}
	logFirst := 0
	for _, o := range order {
		if o == "on_log" {
			logFirst++
		}
	}
	if logFirst != 2 {
		t.Errorf("first callbacks = %v, want on_log first for half the streams and on_done first for the other half", order)
	}
}

func TestLoadRejectsExportsWithTheWrongSignature(t *testing.T) {
	_, err := New(context.Background(), Config{Module: buildGuest(t, "badsig"), Log: testLog(t)})
	if err == nil {
		t.Fatal("New succeeded for a module exporting proxy_on_request_headers(i32, i32, i64)")
	}
	if !strings.Contains(err.Error(), "bad function signature for proxy_on_request_headers") {
		t.Fatalf("error %q does not name the export", err)
	}
}
