package e2e

// Load and soak: many concurrent clients through the host's HTTP front end
// (two worker VMs) with a mix of valid, invalid, expired and under-scoped
// tokens. Every answer is checked against the expected decision, and the
// workers' linear memory must stay flat. `make test` runs it for a few
// seconds; `make soak` (SCOPEGATE_SOAK=long) for SCOPEGATE_SOAK_DURATION
// (default 10m) and prints requests served, wrong decisions, traps and
// memory at start and end.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// soakCase is one kind of request in the mix and the answer it must get.
type soakCase struct {
	name    string
	path    string
	headers func(r *rand.Rand) [][2]string
	status  int
	// error is the JSON body's error for a denial; sub the x-jwt-sub the
	// upstream must see for an allowed /orders request.
	error string
	sub   func(headers [][2]string) string
}

func soakDuration(t *testing.T) (time.Duration, bool) {
	if os.Getenv("SCOPEGATE_SOAK") != "long" {
		return 3 * time.Second, false
	}
	d := 10 * time.Minute
	if s := os.Getenv("SCOPEGATE_SOAK_DURATION"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			t.Fatalf("SCOPEGATE_SOAK_DURATION: %v", err)
		}
	}
	return d, true
}

func TestSoak(t *testing.T) {
	duration, long := soakDuration(t)
	const clients = 16
	rs := testjwt.CachedKey("RS256", "soak-rs")
	es := testjwt.CachedKey("ES256", "soak-es")
	stranger := testjwt.CachedKey("RS256", "soak-stranger")
	cfg := `{"providers":[{"name":"idp","issuer":"` + filterIssuer + `","local_jwks":` + string(testjwt.JWKS(rs, es)) +
		`,"claim_to_headers":[{"claim":"sub","header":"x-jwt-sub"}]}],` +
		`"rules":[{"match":{"prefix":"/orders"},"requires":{"scopes":["orders.read"]}},` +
		`{"match":{"prefix":"/open"},"requires":{"allow":true}}]}`

	// The upstream echoes what the filter vouched for (and keeps nothing, so
	// a long run does not grow the test process).
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "sub="+strings.Join(r.Header.Values("X-Jwt-Sub"), ",")+" auth="+r.Header.Get("Authorization"))
	}))
	defer upstream.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	h, err := host.New(ctx, host.Config{Module: filterModule(t), PluginConfig: []byte(cfg), Upstream: upstream.URL, Workers: 2, Log: io.Discard})
	cancel()
	if err != nil {
		t.Fatalf("host.New: %v", err)
	}
	defer h.Close(context.Background())
	front := httptest.NewServer(h.Handler())
	defer front.Close()

	now := time.Now()
	pool := func(k *testjwt.Key, n int, scopes ...string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = k.Sign(testjwt.Claims(filterIssuer, k.Kid+"-"+strconv.Itoa(i), now, scopes...), nil)
		}
		return out
	}
	validRS, validES := pool(rs, 64, "orders.read", "profile"), pool(es, 32, "orders.read")
	noScope := pool(rs, 16, "profile")
	expired := make([]string, 16)
	for i := range expired {
		expired[i] = rs.Sign(testjwt.Claims(filterIssuer, "late-"+strconv.Itoa(i), now.Add(-3*time.Hour)), nil)
	}
	foreign := pool(stranger.WithKid("soak-rs"), 8, "orders.read")
	var fresh atomic.Int64
	pick := func(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }
	auth := func(tok string) [][2]string { return [][2]string{{"Authorization", "Bearer " + tok}} }
	subOf := func(headers [][2]string) string {
		tok := strings.TrimPrefix(headers[0][1], "Bearer ")
		payload, _ := decodeSegment(strings.Split(tok, ".")[1])
		var c struct{ Sub string }
		json.Unmarshal(payload, &c)
		return c.Sub
	}
	mix := []soakCase{
		{name: "valid RS256", path: "/orders/1", status: 200, headers: func(r *rand.Rand) [][2]string { return auth(pick(r, validRS)) }, sub: subOf},
		{name: "valid ES256", path: "/orders/2", status: 200, headers: func(r *rand.Rand) [][2]string { return auth(pick(r, validES)) }, sub: subOf},
		{name: "fresh valid RS256", path: "/orders/3", status: 200, sub: subOf, headers: func(*rand.Rand) [][2]string {
			n := fresh.Add(1) // a new sub every time: verified in wasm, fills and cycles the token cache
			return auth(rs.Sign(testjwt.Claims(filterIssuer, "fresh-"+strconv.FormatInt(n, 10), time.Now(), "orders.read"), nil))
		}},
		{name: "under-scoped", path: "/orders/4", status: 403, error: "insufficient_scope", headers: func(r *rand.Rand) [][2]string { return auth(pick(r, noScope)) }},
		{name: "expired", path: "/orders/5", status: 401, error: "invalid_token", headers: func(r *rand.Rand) [][2]string { return auth(pick(r, expired)) }},
		{name: "signed by a stranger under a known kid", path: "/orders/6", status: 401, error: "invalid_token", headers: func(r *rand.Rand) [][2]string { return auth(pick(r, foreign)) }},
		{name: "tampered", path: "/orders/7", status: 401, error: "invalid_token", headers: func(r *rand.Rand) [][2]string {
			tok := pick(r, validRS)
			return auth(tok[:len(tok)-8] + "AAAAAAAA")
		}},
		{name: "garbage", path: "/orders/8", status: 401, error: "invalid_token", headers: func(r *rand.Rand) [][2]string {
			return auth(strconv.FormatUint(r.Uint64(), 36) + "." + strconv.FormatUint(r.Uint64(), 36))
		}},
		{name: "no token", path: "/orders/9", status: 401, error: "unauthorized", headers: func(*rand.Rand) [][2]string { return nil }},
		{name: "two tokens", path: "/orders/10?access_token=x", status: 400, error: "invalid_request", headers: func(r *rand.Rand) [][2]string { return auth(pick(r, validRS)) }},
		{name: "open route", path: "/open", status: 200, headers: func(*rand.Rand) [][2]string { return nil }},
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var served, wrong atomic.Int64
	var wrongMu sync.Mutex
	var wrongSamples []string
	noteWrong := func(msg string) {
		wrong.Add(1)
		wrongMu.Lock()
		if len(wrongSamples) < 10 {
			wrongSamples = append(wrongSamples, msg)
		}
		wrongMu.Unlock()
	}
	run := func(stop time.Time, seed uint64) {
		r := rand.New(rand.NewPCG(seed, 7))
		for time.Now().Before(stop) {
			c := mix[r.IntN(len(mix))]
			headers := c.headers(r)
			req, _ := http.NewRequest("GET", front.URL+c.path, nil)
			for _, hv := range headers {
				req.Header.Add(hv[0], hv[1])
			}
			resp, err := client.Do(req)
			if err != nil {
				noteWrong(c.name + ": " + err.Error())
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			served.Add(1)
			if resp.StatusCode != c.status {
				noteWrong(c.name + ": status " + strconv.Itoa(resp.StatusCode) + " " + string(body))
				continue
			}
			switch {
			case c.error != "":
				var b map[string]string
				if json.Unmarshal(body, &b) != nil || b["error"] != c.error {
					noteWrong(c.name + ": body " + string(body))
				}
			case c.sub != nil:
				if want := "sub=" + c.sub(headers) + " auth="; string(body) != want {
					noteWrong(c.name + ": upstream saw " + string(body) + ", want " + want)
				}
			}
		}
	}
	phase := func(d time.Duration, seedBase uint64) {
		var wg sync.WaitGroup
		stop := time.Now().Add(d)
		for i := range clients {
			wg.Add(1)
			go func() { defer wg.Done(); run(stop, seedBase+uint64(i)) }()
		}
		wg.Wait()
	}

	warmup := time.Second
	if long {
		warmup = 30 * time.Second
	}
	phase(warmup, 100)
	startMem := [2]uint64{h.MemoryStats(0).Bytes, h.MemoryStats(1).Bytes}
	startServed := served.Load()
	phase(duration, 200)
	endMem := [2]uint64{h.MemoryStats(0).Bytes, h.MemoryStats(1).Bytes}

	report := "soak: " + duration.String() + ", " + strconv.Itoa(clients) + " clients, 2 workers: " +
		strconv.FormatInt(served.Load(), 10) + " requests served (" + strconv.FormatInt(served.Load()-startServed, 10) + " after warm-up), " +
		strconv.FormatInt(wrong.Load(), 10) + " wrong decisions, " + strconv.Itoa(h.Traps()) + " traps, " +
		strconv.FormatInt(fresh.Load(), 10) + " fresh tokens verified; linear memory KiB start " +
		strconv.FormatUint(startMem[0]>>10, 10) + "/" + strconv.FormatUint(startMem[1]>>10, 10) + " end " +
		strconv.FormatUint(endMem[0]>>10, 10) + "/" + strconv.FormatUint(endMem[1]>>10, 10)
	t.Log(report)
	if long {
		os.Stdout.WriteString(report + "\n")
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d wrong decisions, e.g. %q", n, wrongSamples)
	}
	// Every answered request is counted exactly once.
	var counted uint64
	for _, name := range []string{"scopegate.allowed", "scopegate.denied.missing", "scopegate.denied.invalid", "scopegate.denied.scope", "scopegate.denied.unavailable"} {
		n, _ := h.Metric(name)
		counted += n
	}
	if n, _ := h.Metric("scopegate.denied.unavailable"); n != 0 {
		t.Errorf("%d requests denied as unavailable with local keys", n)
	}
	if counted != uint64(served.Load()) {
		t.Errorf("the decision counters sum to %d, but %d requests were served", counted, served.Load())
	}
	if served.Load()-startServed == 0 {
		t.Error("no request was served after the warm-up")
	}
	if h.Traps() != 0 {
		t.Errorf("%d traps", h.Traps())
	}
	if v := h.Violations(); len(v) != 0 {
		t.Errorf("Envoy rule violations: %v", v)
	}
	// Flat memory: after the warm-up the heap has found its size; a leak
	// per request would show as steady growth over the run.
	for w := range 2 {
		if endMem[w] > startMem[w]+16<<20 {
			t.Errorf("worker %d linear memory grew from %d to %d KiB", w, startMem[w]>>10, endMem[w]>>10)
		}
	}
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
