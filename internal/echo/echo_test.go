package echo

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEchoDescribesTheRequest(t *testing.T) {
	ts := httptest.NewServer(Handler())
	defer ts.Close()
	req, _ := http.NewRequest("POST", ts.URL+"/oidc/orders?id=7&id=8", strings.NewReader("hello"))
	req.Header.Set("X-Jwt-Sub", "abc")
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var rep Reply
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if rep.Method != "POST" || rep.Path != "/oidc/orders" || rep.BodyBytes != 5 {
		t.Errorf("method/path/body = %s %s %d", rep.Method, rep.Path, rep.BodyBytes)
	}
	if got := strings.Join(rep.Query["id"], ","); got != "7,8" {
		t.Errorf("query id = %q", got)
	}
	if got := rep.Headers["X-Jwt-Sub"]; len(got) != 1 || got[0] != "abc" {
		t.Errorf("X-Jwt-Sub = %v", got)
	}
	if got := strings.Join(rep.Headers["X-Multi"], ","); got != "1,2" {
		t.Errorf("X-Multi = %q", got)
	}
	if _, ok := rep.Headers["Authorization"]; ok {
		t.Error("an Authorization header appeared from nowhere")
	}
}
