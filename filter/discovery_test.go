package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/scopegate/scopegate/internal/testjwt"
)

func discoveryDoc(issuer, jwks string) []byte {
	return []byte(`{"issuer":"` + issuer + `","jwks_uri":"` + jwks + `","response_types_supported":["code"]}`)
}

func TestDiscoveryFetchesTheDocumentThenItsJWKSThroughTheJWKSCluster(t *testing.T) {
	k := startKeys(t, discoveryConfig(testIssuer, `"jwks_cluster":"keys"`))
	id, _ := k.startRequest("/x", k.tok(rsKey()))
	doc := k.fetchNow()
	if doc.Upstream != "idp" || header(doc.Headers, ":path") != discoveryPath || header(doc.Headers, ":authority") != "idp.example.com" {
		t.Fatalf("discovery callout: %s %v", doc.Upstream, doc.Headers)
	}
	k.answer(doc, "200", discoveryDoc(testIssuer, "https://keys.example.com:8443/jwks?v=2"))
	jwks := k.one(k.newCallouts())
	if jwks.Upstream != "keys" || header(jwks.Headers, ":path") != "/jwks?v=2" || header(jwks.Headers, ":authority") != "keys.example.com:8443" {
		t.Fatalf("JWKS callout: %s %v", jwks.Upstream, jwks.Headers)
	}
	k.requireOutcome(id, "paused")
	k.answer(jwks, "200", testjwt.JWKS(rsKey()))
	k.requireOutcome(id, "continued")
	if k.counter(metricJWKSFetchOK) != 1 || k.counter(metricJWKSFetchFailed) != 0 {
		t.Errorf("fetch_ok %d fetch_failed %d: one discovery is one fetch", k.counter(metricJWKSFetchOK), k.counter(metricJWKSFetchFailed))
	}
}

func TestDiscoveryUsesTheDiscoveryClusterForTheJWKSByDefault(t *testing.T) {
	k := startKeys(t, discoveryConfig(testIssuer, ""))
	k.answer(k.fetchNow(), "200", discoveryDoc(testIssuer, "https://idp.example.com/realms/demo/certs"))
	if c := k.one(k.newCallouts()); c.Upstream != "idp" {
		t.Errorf("JWKS cluster = %q, want the discovery cluster", c.Upstream)
	}
}

func TestABadDiscoveryDocumentIsAFailedFetch(t *testing.T) {
	cases := []struct {
		name    string
		issuer  string // the provider's
		doc     string
		log     string // expected in the warn log
		errorLo string // expected in the error log ("" : none)
	}{
		{"an issuer that differs from the provider's", testIssuer, string(discoveryDoc(otherIssuer, "https://idp.example.com/certs")),
			"names issuer", `names issuer "` + otherIssuer + `" but the provider's issuer is "` + testIssuer + `"`},
		{"an issuer differing only by a trailing slash", testIssuer, string(discoveryDoc(testIssuer+"/", "https://idp.example.com/certs")),
			"names issuer", "but the provider's issuer is"},
		{"a missing jwks_uri", testIssuer, `{"issuer":"` + testIssuer + `"}`, "no jwks_uri", ""},
		{"a jwks_uri that is not a string", testIssuer, `{"issuer":"` + testIssuer + `","jwks_uri":7}`, "jwks_uri is not a non-empty string", ""},
		{"a relative jwks_uri", testIssuer, string(discoveryDoc(testIssuer, "/certs")), "jwks_uri must be an absolute http or https URI", ""},
		{"an HTML page", testIssuer, "<html>login</html>", "not valid JSON", ""},
		{"a JSON array", testIssuer, `[]`, "not a JSON object", ""},
		{"a repeated issuer", testIssuer, `{"issuer":"` + testIssuer + `","issuer":"` + otherIssuer + `","jwks_uri":"https://idp/c"}`, "more than once", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name+" answers 503", func(t *testing.T) {
			k := startKeys(t, discoveryConfig(tc.issuer, ""))
			id, _ := k.startRequest("/x", k.tok(rsKey()))
			k.answer(k.fetchNow(), "200", []byte(tc.doc))
			if n := len(k.newCallouts()); n != 0 {
				t.Fatalf("%d JWKS callouts after a bad discovery document", n)
			}
			k.requireOutcome(id, "answered 503")
			if !strings.Contains(k.logsAt("warn"), tc.log) {
				t.Errorf("warn logs %q lack %q", k.logsAt("warn"), tc.log)
			}
			if tc.errorLo != "" && !strings.Contains(k.logsAt("error"), tc.errorLo) {
				t.Errorf("error logs %q lack %q", k.logsAt("error"), tc.errorLo)
			}
			if k.counter(metricJWKSFetchFailed) != 1 {
				t.Errorf("fetch_failed = %d", k.counter(metricJWKSFetchFailed))
			}
		})
	}
}

func TestAFailedJWKSFetchAfterDiscoveryIsAFailedFetch(t *testing.T) {
	k := startKeys(t, discoveryConfig(testIssuer, ""))
	id, _ := k.startRequest("/x", k.tok(rsKey()))
	k.answer(k.fetchNow(), "200", discoveryDoc(testIssuer, "https://idp.example.com/certs"))
	k.failCall(k.one(k.newCallouts()))
	k.requireOutcome(id, "answered 503")
}

func TestDiscoveryIsRepeatedOnEveryRefresh(t *testing.T) {
	k := startKeys(t, discoveryConfig(testIssuer, `"cache_duration_s":60`))
	k.answer(k.fetchNow(), "200", discoveryDoc(testIssuer, "https://idp.example.com/old"))
	k.answer(k.one(k.newCallouts()), "200", testjwt.JWKS(rsKey()))
	k.advance(time.Minute)
	doc := k.fetchNow()
	if header(doc.Headers, ":path") != discoveryPath {
		t.Fatalf("the refresh fetched %s, want the discovery document first", header(doc.Headers, ":path"))
	}
	k.answer(doc, "200", discoveryDoc(testIssuer, "https://idp.example.com/new"))
	jwks := k.one(k.newCallouts())
	if header(jwks.Headers, ":path") != "/new" {
		t.Errorf("the refresh did not follow the new jwks_uri: %v", jwks.Headers)
	}
	k.answer(jwks, "200", testjwt.JWKS(esKey()))
	if got := k.request(k.tok(esKey())); got != "continued" {
		t.Errorf("a token of the re-discovered set: %s", got)
	}
}

func TestParseDiscoveryReadsIssuerAndJWKSURI(t *testing.T) {
	iss, uri, err := parseDiscovery([]byte(` {"jwks_uri":"https://a/k","issuer":"https://a","x":{"issuer":1}} `))
	if err != nil || iss != "https://a" || uri != "https://a/k" {
		t.Fatalf("got %q %q %v", iss, uri, err)
	}
	for _, bad := range []string{``, `{}`, `{"issuer":"a"}`, `{"jwks_uri":"b"}`, `{"issuer":"","jwks_uri":"b"}`,
		`{"issuer":"a","jwks_uri":null}`, `{"issuer":"a","jwks_uri":"b"`, `"x"`, `{"issuer":"a","jwks_uri":"b","jwks_uri":"c"}`} {
		if _, _, err := parseDiscovery([]byte(bad)); err == nil {
			t.Errorf("parseDiscovery(%q) accepted", bad)
		}
	}
}

func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://a","jwks_uri":"https://a/k"}`))
	f.Add([]byte(`{"issuer":"https://a","jwks_uri":"https://a/k","issuer":"https://b"}`))
	f.Add([]byte(`{"issuer":"https:\/\/a","jwks_uri":"\u0068ttps://a/k"}`))
	f.Add([]byte(`{"issuer":1,"jwks_uri":[]}`))
	f.Add([]byte(`[{"issuer":"a"}]`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		iss, uri, err := parseDiscovery(doc)
		if err != nil {
			if iss != "" || uri != "" {
				t.Fatalf("values %q %q returned with error %v", iss, uri, err)
			}
			return
		}
		if iss == "" || uri == "" {
			t.Fatalf("accepted empty values: %q %q", iss, uri)
		}
		// An independent reading of the same document agrees.
		if got := gjson.GetBytes(doc, "issuer"); got.Type != gjson.String || got.Str != iss {
			t.Fatalf("issuer %q, gjson path reads %v", iss, got)
		}
		if got := gjson.GetBytes(doc, "jwks_uri"); got.Type != gjson.String || got.Str != uri {
			t.Fatalf("jwks_uri %q, gjson path reads %v", uri, got)
		}
	})
}
