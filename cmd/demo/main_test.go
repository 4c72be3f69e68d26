package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/devidp"
	"github.com/scopegate/scopegate/internal/echo"
	"github.com/scopegate/scopegate/internal/syncbuf"
	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// startTestDemo runs the demo wiring exactly as `make run` does, on free ports.
func startTestDemo(t *testing.T, logs io.Writer) *demo {
	t.Helper()
	mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(context.Background(), options{
		ProxyAddr: "127.0.0.1:0", IdPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		Module: mod, Config: filepath.Join(root, "examples", "demo.json"),
		Alg: "RS256", Workers: 2, LogLevel: "info", Log: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Close(ctx)
	})
	return d
}

// passwordToken gets a token for user from the demo's identity provider.
func passwordToken(t *testing.T, idpURL, user, pass string) string {
	t.Helper()
	resp, err := http.PostForm(idpURL+"/token", url.Values{
		"grant_type": {"password"}, "client_id": {"demo-cli"}, "username": {user}, "password": {pass},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token for %s: status %d, err %v", user, resp.StatusCode, err)
	}
	return tr.AccessToken
}

// call sends GET path to the proxy with an optional bearer token.
func call(t *testing.T, proxyURL, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", proxyURL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func passwords(d *demo) map[string]string {
	m := map[string]string{}
	for _, u := range d.IdP.Users() {
		m[u.Username] = u.Password
	}
	return m
}

func TestDemoWalkthrough(t *testing.T) {
	logs := &syncbuf.Buffer{}
	d := startTestDemo(t, logs)
	pass := passwords(d)
	with := passwordToken(t, d.IdPURL, "Blog_with_scope", pass["Blog_with_scope"])
	without := passwordToken(t, d.IdPURL, "Blog_without_scope", pass["Blog_without_scope"])

	t.Run("Blog_with_scope reaches the upstream, which sees claim headers and no token", func(t *testing.T) {
		resp, body := call(t, d.ProxyURL, "/oidc/hello", with)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var rep echo.Reply
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("upstream answer is not the echo's JSON: %v\n%s", err, body)
		}
		if rep.Path != "/oidc/hello" || rep.Method != "GET" {
			t.Errorf("upstream saw %s %s", rep.Method, rep.Path)
		}
		if got := rep.Headers["X-Jwt-Sub"]; len(got) != 1 || got[0] != devidp.SubjectOf("Blog_with_scope") {
			t.Errorf("x-jwt-sub = %v, want %s", got, devidp.SubjectOf("Blog_with_scope"))
		}
		if got := rep.Headers["X-Jwt-Username"]; len(got) != 1 || got[0] != "Blog_with_scope" {
			t.Errorf("x-jwt-username = %v", got)
		}
		if _, ok := rep.Headers["Authorization"]; ok {
			t.Error("the token reached the upstream; it must be stripped")
		}
	})
	t.Run("Blog_without_scope is refused with 403 and the RFC 6750 header", func(t *testing.T) {
		resp, body := call(t, d.ProxyURL, "/oidc/hello", without)
		if resp.StatusCode != 403 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		want := `Bearer error="insufficient_scope", scope="kong_api_access"`
		if got := resp.Header.Get("WWW-Authenticate"); got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	})
	t.Run("a request without a token gets 401", func(t *testing.T) {
		resp, body := call(t, d.ProxyURL, "/oidc/hello", "")
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("status %d, WWW-Authenticate %q: %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	})
	t.Run("the open health route needs no token", func(t *testing.T) {
		if resp, body := call(t, d.ProxyURL, "/health", ""); resp.StatusCode != 200 {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("the proxy log names the missing scope", func(t *testing.T) {
		if !strings.Contains(logs.String(), "required scopes were not found [kong_api_access]") {
			t.Errorf("log lacks the denial line; log:\n%s", logs.String())
		}
		if strings.Contains(logs.String(), without) {
			t.Error("the log contains a token")
		}
	})
	t.Run("the admin endpoint shows the plugin's counters", func(t *testing.T) {
		resp, err := http.Get(d.AdminURL + "/stats")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, want := range []string{"wasmcustom.scopegate.allowed: ", "wasmcustom.scopegate.denied.scope: 1", "wasmcustom.scopegate.denied.missing: 1"} {
			if !strings.Contains(string(body), want) {
				t.Errorf("stats lack %q:\n%s", want, body)
			}
		}
	})
	t.Run("after a key rotation a new token is accepted", func(t *testing.T) {
		old := d.IdP.SigningKid()
		if _, err := d.IdP.Rotate("", false); err != nil {
			t.Fatal(err)
		}
		if d.IdP.SigningKid() == old {
			t.Fatal("rotation kept the kid")
		}
		// examples/demo.json sets refetch_min_interval_s to 5: wait out the
		// rate limit that the first fetch started.
		deadline := time.Now().Add(20 * time.Second)
		fresh := passwordToken(t, d.IdPURL, "Blog_with_scope", pass["Blog_with_scope"])
		for {
			resp, body := call(t, d.ProxyURL, "/oidc/hello", fresh)
			if resp.StatusCode == 200 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("token with the new kid still refused: %d %s", resp.StatusCode, body)
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// TestGuideCommandsWork runs the token commands the launcher prints through a
// shell with curl, as a newcomer would paste them.
func TestGuideCommandsWork(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to check the printed walkthrough commands (apt-get install curl)")
	}
	d := startTestDemo(t, io.Discard)
	var guide bytes.Buffer
	printGuide(&guide, d)
	text := guide.String()
	for _, want := range []string{d.ProxyURL, d.IdPURL, d.EchoURL, d.AdminURL + "/stats", "Blog_with_scope", "Blog_without_scope", "Ctrl-C"} {
		if !strings.Contains(text, want) {
			t.Errorf("guide does not mention %q:\n%s", want, text)
		}
	}
	for _, v := range []string{"WITH", "WITHOUT"} {
		m := regexp.MustCompile(`(?m)^  ` + v + `=\$\((.*)\)$`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("guide has no %s= line:\n%s", v, text)
		}
		out, err := exec.Command("sh", "-c", m[1]).Output()
		tok := strings.TrimSpace(string(out))
		if err != nil || strings.Count(tok, ".") != 2 {
			t.Fatalf("%s command printed %q (err %v)", v, tok, err)
		}
		want := map[string]int{"WITH": 200, "WITHOUT": 403}[v]
		if resp, body := call(t, d.ProxyURL, "/oidc/hello", tok); resp.StatusCode != want {
			t.Errorf("%s token: status %d, want %d: %s", v, resp.StatusCode, want, body)
		}
	}
}

// TestCtrlCStopsEverything runs the real command and interrupts it.
func TestCtrlCStopsEverything(t *testing.T) {
	mod, err := wasmbuild.Build("./cmd/scopegate", wasmbuild.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := wasmbuild.RepoRoot()
	bin := filepath.Join(t.TempDir(), "demo")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-proxy", "127.0.0.1:0", "-idp", "127.0.0.1:0", "-echo", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-wasm", mod, "-config", filepath.Join(root, "examples", "demo.json"))
	stdout, _ := cmd.StdoutPipe()
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	proxyRe := regexp.MustCompile(`proxy \(scopegate\.wasm\)\s+(http://\S+)`)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := proxyRe.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m[1]
			}
		}
		close(ready)
	}()
	var proxyURL string
	select {
	case proxyURL = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("the demo did not print its guide; stderr:\n%s", stderr.String())
	}
	if proxyURL == "" {
		t.Fatalf("the demo exited early; stderr:\n%s", stderr.String())
	}
	if resp, _ := call(t, proxyURL, "/health", ""); resp.StatusCode != 200 {
		t.Fatalf("health through the running demo: %d", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the demo exited with %v after Ctrl-C; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the demo did not stop within 15 s of Ctrl-C")
	}
	if _, err := http.Get(proxyURL + "/health"); err == nil {
		t.Error("the proxy still answers after Ctrl-C")
	}
}
