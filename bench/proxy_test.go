package bench

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
)

// proxyConcurrency is the number of clients sending at once.
const proxyConcurrency = 16

// BenchmarkProxy measures the local proxy end to end over loopback HTTP:
// a real client, host.Handler in an http.Server on 127.0.0.1, and a real
// upstream (httptest) answering a small body. "scopegate" runs the filter
// with a token that is verified once and then cached; "nofilter" is the
// same proxy running the pass-through module (the ratio is the filter's
// cost as a client sees it); "direct" skips the proxy (the loopback floor).
// b.N requests are spread over proxyConcurrency clients; ns/op is wall
// time per request (1/throughput), and rps, p50-us and p99-us are reported.
func BenchmarkProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{"order":42,"status":"shipped"}`)
	}))
	defer upstream.Close()
	token := mint(keyFor("RS256"))
	for _, workers := range []int{1, 2} {
		b.Run("workers_"+strconv.Itoa(workers), func(b *testing.B) {
			b.Run("scopegate", func(b *testing.B) {
				url := startProxy(b, build(b, modScopegate), pluginConfig(), workers, upstream.URL)
				runLoad(b, url+"/api/orders/42", token)
			})
			b.Run("nofilter", func(b *testing.B) {
				url := startProxy(b, build(b, modPassthrough), nil, workers, upstream.URL)
				runLoad(b, url+"/api/orders/42", token)
			})
			if workers == 1 {
				b.Run("direct", func(b *testing.B) { runLoad(b, upstream.URL+"/api/orders/42", token) })
			}
		})
	}
}

// startProxy serves module's Handler on a loopback port and returns its URL.
func startProxy(b *testing.B, module string, config []byte, workers int, upstream string) string {
	h := startHost(b, module, config, func(c *host.Config) { c.Workers = workers; c.Upstream = upstream })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: h.Handler()}
	go srv.Serve(l)
	b.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// runLoad sends b.N GET requests with the token from proxyConcurrency
// clients over keep-alive connections and reports throughput and latency.
func runLoad(b *testing.B, url, token string) {
	tr := &http.Transport{MaxIdleConnsPerHost: proxyConcurrency, MaxConnsPerHost: proxyConcurrency}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func() error {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return &statusError{resp.StatusCode}
		}
		return nil
	}
	// Warm: open the connections, put the token in every worker's cache.
	for i := 0; i < 2*proxyConcurrency; i++ {
		if err := get(); err != nil {
			b.Fatal(err)
		}
	}
	var (
		next   atomic.Int64
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, b.N)
		failed atomic.Value
		wg     sync.WaitGroup
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for c := 0; c < proxyConcurrency; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := get(); err != nil {
					failed.Store(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rps")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-us")
}

type statusError struct{ code int }

func (e *statusError) Error() string { return "unexpected status " + strconv.Itoa(e.code) }
