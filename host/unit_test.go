package host

import (
	"bytes"
	"encoding/binary"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// encodePairs serializes a header map as the host hands one to a guest
// (encodePairsInto into a buffer of its own); nil for an empty map.
func encodePairs(pairs [][2]string) []byte {
	size := encodedPairsSize(pairs)
	if size == 0 {
		return nil
	}
	out := make([]byte, size)
	encodePairsInto(out, pairs)
	return out
}

func TestHeaderMapSerialization(t *testing.T) {
	t.Run("a map survives encoding and decoding", func(t *testing.T) {
		in := [][2]string{{":path", "/a"}, {"x", ""}, {"", "v"}, {"k", "multi\x00byte"}}
		out, err := decodePairs(encodePairs(in))
		if err != nil || !reflect.DeepEqual(in, out) {
			t.Fatalf("round trip = %v, %v", out, err)
		}
	})
	t.Run("the wire format is count, sizes, then NUL-terminated keys and values", func(t *testing.T) {
		want := []byte{1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'a', 0, 'b', 'c', 0}
		if got := encodePairs([][2]string{{"a", "bc"}}); !bytes.Equal(got, want) {
			t.Fatalf("encodePairs = %v, want %v", got, want)
		}
	})
	t.Run("an empty map is empty bytes", func(t *testing.T) {
		if got := encodePairs(nil); len(got) != 0 {
			t.Fatalf("encodePairs(nil) = %v", got)
		}
	})
	t.Run("a map of 1024 pairs is accepted", func(t *testing.T) {
		pairs := make([][2]string, 1024)
		if out, err := decodePairs(encodePairs(pairs)); err != nil || len(out) != 1024 {
			t.Fatalf("1024 pairs: %d, %v", len(out), err)
		}
	})
	t.Run("a map of 1025 pairs is over Envoy's limit", func(t *testing.T) {
		pairs := make([][2]string, 1025)
		if _, err := decodePairs(encodePairs(pairs)); err != errPairsTooLarge {
			t.Fatalf("1025 pairs: err = %v", err)
		}
	})
	t.Run("a map over 1 MiB is over Envoy's limit", func(t *testing.T) {
		big := [][2]string{{"k", strings.Repeat("v", 1<<20)}}
		if _, err := decodePairs(encodePairs(big)); err != errPairsTooLarge {
			t.Fatalf("1 MiB value: err = %v", err)
		}
	})
	malformed := map[string][]byte{
		"shorter than its count":     {1, 0},
		"sizes past the end":         {2, 0, 0, 0, 1, 0, 0, 0},
		"entry past the end":         {1, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 'a', 0},
		"entry without NUL":          {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'a', 'x', 'b', 0},
		"huge size overflowing u32s": {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0},
	}
	for name, data := range malformed {
		t.Run("a map with "+name+" is rejected", func(t *testing.T) {
			if _, err := decodePairs(data); err == nil || err == errPairsTooLarge {
				t.Fatalf("decodePairs(%v) err = %v, want a malformed-map error", data, err)
			}
		})
	}
}

func FuzzDecodePairs(f *testing.F) {
	f.Add(encodePairs([][2]string{{"a", "b"}, {":path", "/x"}}))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := decodePairs(data)
		if err != nil {
			return
		}
		if len(data) > 0 && len(pairs) > 0 {
			re, err := decodePairs(encodePairs(pairs))
			if err != nil || !reflect.DeepEqual(re, pairs) {
				t.Fatalf("re-encoding changed the map: %v -> %v (%v)", pairs, re, err)
			}
		}
		if n := len(data); n >= 4 && binary.LittleEndian.Uint32(data) != uint32(len(pairs)) {
			t.Fatalf("decoded %d pairs, header says %d", len(pairs), binary.LittleEndian.Uint32(data))
		}
	})
}

func TestWASISurfaceIsEnvoys(t *testing.T) {
	h := &Host{}
	var names []string
	for _, f := range h.wasiFunctions() {
		names = append(names, f.name)
	}
	want := append([]string(nil), envoyWASI...)
	sort.Strings(names)
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("WASI functions = %v, want Envoy's %v", names, want)
	}
	for _, extra := range []string{"fd_filestat_get", "path_filestat_get", "sock_accept", "clock_res_get"} {
		for _, n := range names {
			if n == extra {
				t.Errorf("%s is provided but Envoy 1.33 does not have it", extra)
			}
		}
	}
}

func TestInitRestrictionsAreEnvoys(t *testing.T) {
	cases := []struct {
		module, name string
		allowed      bool
	}{
		{"env", "proxy_log", true},
		{"env", "proxy_define_metric", false},
		{"env", "proxy_get_property", false},
		{wasiSnapshot, "fd_write", true},
		{wasiSnapshot, "random_get", true},
		{wasiUnstable, "clock_time_get", true},
		{wasiSnapshot, "poll_oneoff", false},
		{wasiSnapshot, "sched_yield", false},
	}
	for _, c := range cases {
		if got := initAllowed[ruleName(c.module, c.name)]; got != c.allowed {
			t.Errorf("%s.%s allowed during _initialize = %v, want %v", c.module, c.name, got, c.allowed)
		}
	}
	if allocAllowed[ruleName("env", "proxy_get_header_map_value")] || !allocAllowed[ruleName(wasiSnapshot, "fd_write")] {
		t.Error("allocator restrictions differ from Envoy's")
	}
}

func TestSharedDataCAS(t *testing.T) {
	d := newSharedData()
	if _, _, ok := d.get("k"); ok {
		t.Fatal("empty store has k")
	}
	if st := d.set("k", []byte("1"), 0); st != statusOK {
		t.Fatalf("unconditional set = %d", st)
	}
	v, cas1, _ := d.get("k")
	if string(v) != "1" || cas1 == 0 {
		t.Fatalf("get = %q cas %d", v, cas1)
	}
	if st := d.set("k", []byte("2"), cas1); st != statusOK {
		t.Fatalf("set with the current cas = %d, want OK", st)
	}
	_, cas2, _ := d.get("k")
	if cas2 == cas1 {
		t.Fatal("a write did not change the cas")
	}
	if st := d.set("k", []byte("3"), cas1); st != statusCasMismatch {
		t.Fatalf("set with a stale cas = %d, want CAS_MISMATCH", st)
	}
	if v, _, _ := d.get("k"); string(v) != "2" {
		t.Fatalf("a rejected write changed the value to %q", v)
	}
	if st := d.set("k", []byte("4"), 0); st != statusOK {
		t.Fatalf("cas 0 is unconditional, got %d", st)
	}
}

func TestMetricRegistry(t *testing.T) {
	r := newMetricRegistry()
	c, _ := r.define(metricCounter, "c")
	g, _ := r.define(metricGauge, "g")
	hi, _ := r.define(metricHistogram, "h")
	if again, _ := r.define(metricCounter, "c"); again != c {
		t.Errorf("redefining a counter gave id %d, want %d", again, c)
	}
	if _, st := r.define(metricGauge, "c"); st != statusBadArgument {
		t.Errorf("redefining c as a gauge = %d, want BAD_ARGUMENT", st)
	}
	r.increment(c, 2)
	if st := r.increment(c, -1); st != statusBadArgument {
		t.Errorf("decrementing a counter = %d, want BAD_ARGUMENT", st)
	}
	r.increment(g, 5)
	r.increment(g, -7)
	r.record(hi, 10)
	r.record(hi, 30)
	if v, _ := r.value("c"); v != 2 {
		t.Errorf("c = %d", v)
	}
	if v, _ := r.get(g); int64(v) != -2 {
		t.Errorf("g = %d", int64(v))
	}
	if v, _ := r.value("h"); v != 2 {
		t.Errorf("h count = %d", v)
	}
	var b bytes.Buffer
	r.writeStats(&b, func(string) bool { return true })
	want := "wasmcustom.c: 2\nwasmcustom.g: -2\nwasmcustom.h: count=2 sum=40\n"
	if b.String() != want {
		t.Errorf("stats = %q, want %q", b.String(), want)
	}
}

func TestLogLevels(t *testing.T) {
	for _, s := range []string{"trace", "debug", "info", "warn", "error", "critical"} {
		l, err := ParseLogLevel(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := proxyLevel(uint32(l - 1)); got != l {
			t.Errorf("%s: proxy level round trip = %v", s, got)
		}
	}
	if _, err := ParseLogLevel("loud"); err == nil {
		t.Error("ParseLogLevel accepted loud")
	}
	if m, err := ParsePollOneoffMode("no-events"); err != nil || m != PollOneoffNoEvents {
		t.Errorf("no-events = %v, %v", m, err)
	}
}

func TestGuestHeaderMapsFollowEnvoysToPairs(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		rule string // "" when the map is valid
		want int    // pairs kept
	}{
		{"a valid map is kept", encodePairs([][2]string{{"a", "b"}, {"c", "d"}}), "", 2},
		{"an empty buffer is an empty map", nil, "", 0},
		{"a malformed map is empty and a violation", []byte{2, 0, 0, 0, 1, 0, 0, 0}, RuleMalformedHeaderMap, 0},
		{"a map over 1024 pairs is empty and a violation", encodePairs(make([][2]string, 1025)), RuleHeaderMapLimit, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &vm{h: &Host{cfg: Config{Log: io.Discard, LogLevel: LogInfo}}, name: "worker-0"}
			got := v.decodeGuestPairs(c.data, "proxy_set_header_map_pairs")
			if len(got) != c.want {
				t.Errorf("kept %d pairs, want %d", len(got), c.want)
			}
			vs := v.h.Violations()
			switch {
			case c.rule == "" && len(vs) != 0:
				t.Errorf("violations = %v, want none", vs)
			case c.rule != "" && (len(vs) != 1 || vs[0].Rule != c.rule):
				t.Errorf("violations = %v, want one %s", vs, c.rule)
			}
		})
	}
}

func TestBufferWindowFollowsEnvoy(t *testing.T) {
	b := []byte("abcdef")
	cases := []struct {
		name       string
		start, max uint32
		want       string
	}{
		{"the whole buffer", 0, 6, "abcdef"},
		{"a window inside it", 2, 3, "cde"},
		{"a max past the end is cut at the end", 4, 100, "ef"},
		{"a start at the end is empty", 6, 10, ""},
		{"a start past the end is empty, not an error", 7, 10, ""},
		{"start and max near 2^32 do not wrap", 0xffffffff, 0xffffffff, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(bufferWindow(b, c.start, c.max)); got != c.want {
				t.Errorf("bufferWindow(%d, %d) = %q, want %q", c.start, c.max, got, c.want)
			}
		})
	}
}

func TestReplaceHeaderKeepsOneValue(t *testing.T) {
	m := [][2]string{{"a", "1"}, {"x-k", "old"}, {"b", "2"}, {"X-K", "dup"}, {"c", "3"}}
	got := replaceHeader(m, "x-k", "new")
	want := [][2]string{{"a", "1"}, {"x-k", "new"}, {"b", "2"}, {"c", "3"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replace present: %v, want %v", got, want)
	}
	got = replaceHeader(got, "x-new", "v")
	want = append(want, [2]string{"x-new", "v"})
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replace absent: %v, want %v", got, want)
	}
}

// A call with more arguments than the reused stack holds is refused, not
// truncated to its first eight.
func TestCallRefusesMoreArgumentsThanTheStackHolds(t *testing.T) {
	var v vm
	args := make([]uint64, len(v.callStack)+1)
	if _, err := v.call("proxy_on_request_headers", args...); err == nil || !strings.Contains(err.Error(), "9 arguments") {
		t.Fatalf("call with %d arguments: err = %v", len(args), err)
	}
	if _, err := v.call("proxy_on_request_headers", args[:len(v.callStack)]...); err != nil {
		t.Fatalf("call with %d arguments (a missing export): err = %v", len(v.callStack), err)
	}
}
