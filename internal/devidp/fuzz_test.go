package devidp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenEndpoint throws arbitrary forms and Basic credentials at /token:
// the endpoint must answer 200, 400 or 401 with JSON, and issue a token only
// to a caller who presented valid credentials for an allowed grant.
func FuzzTokenEndpoint(f *testing.F) {
	s, err := New(Config{Issuer: "http://idp.test", Alg: "ES256"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("grant_type=password&client_id=demo-cli&username=Blog_with_scope&password=with-scope-pass", "")
	f.Add("grant_type=password&client_id=demo-cli&username=Blog_with_scope&password=with-scope-pas", "")
	f.Add("grant_type=client_credentials&scope=kong_api_access", "demo-service:demo-service-secret")
	f.Add("grant_type=client_credentials&client_id=demo-service&client_secret=demo-service-secret", "")
	f.Add("grant_type=client_credentials&client_id=demo-cli", "")
	f.Add("grant_type=password&username=Blog_without_scope&password=without-scope-pass", "demo-cli:")
	f.Add("grant_type=%zz&&&=", "::")
	f.Fuzz(func(t *testing.T, form, basic string) {
		req := httptest.NewRequest("POST", "/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic != "" {
			user, pass, _ := strings.Cut(basic, ":")
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d with a non-JSON body %q", rec.Code, rec.Body.Bytes())
		}
		switch rec.Code {
		case http.StatusOK:
			if !validCredentials(req) {
				t.Fatalf("issued a token for form %q basic %q", form, basic)
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			if _, ok := body["access_token"]; ok {
				t.Fatalf("an error response carries a token")
			}
		default:
			t.Fatalf("status %d for form %q", rec.Code, form)
		}
	})
}

// validCredentials re-derives, independently of the handler, whether the
// request authenticates a default client for a grant it may use.
func validCredentials(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
		if id != "demo-cli" || secret != "" {
			return false
		}
		u, p := r.PostForm.Get("username"), r.PostForm.Get("password")
		return (u == "Blog_with_scope" && p == "with-scope-pass") || (u == "Blog_without_scope" && p == "without-scope-pass")
	case "client_credentials":
		return id == "demo-service" && secret == "demo-service-secret"
	}
	return false
}
