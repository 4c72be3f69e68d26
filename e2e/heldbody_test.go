package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/host"
	"github.com/scopegate/scopegate/internal/testjwt"
)

// TestAPostWaitingForKeysIsNotLetThroughByItsBody: in Envoy (and the local
// host, which models it) a request whose headers the filter paused still
// delivers its body, and a Continue from the body callback would release the
// headers unverified. A POST that arrives before the keys must wait for them
// and then get the answer its token deserves.
func TestAPostWaitingForKeysIsNotLetThroughByItsBody(t *testing.T) {
	key := testjwt.CachedKey("RS256", "e2e-held")
	other := testjwt.CachedKey("RS256", "e2e-held-other")
	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"a token signed by another key is refused once the keys arrive", other.Sign(testjwt.Claims(filterIssuer, "mallory", time.Now(), "orders.read"), map[string]any{"kid": key.Kid}), 401},
		{"a valid token goes upstream once the keys arrive", keysToken(key), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeIdP(t, keysAuthority, filterIssuer, key)
			srv.setDelay(400 * time.Millisecond) // the POST arrives while the first fetch is in flight
			p := startFilterProxy(t, remoteKeysConfig(""), map[string]string{"idp": srv.URL})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d, err := p.Host.DoOn(ctx, 0, host.Request{Method: "POST", Path: "/orders", Authority: "api.example.com",
				Headers: [][2]string{{"authorization", "Bearer " + tc.token}, {"content-type", "application/json"}},
				Body:    []byte(`{"item":"book"}`)})
			if err != nil {
				t.Fatal(err)
			}
			if got := statusOf(d); got != tc.status {
				t.Fatalf("status %d, want %d", got, tc.status)
			}
			if srv.count(jwksPath) == 0 {
				t.Fatal("decided without fetching the keys")
			}
			p.requireClean(t)
		})
	}
}
