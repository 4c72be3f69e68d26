package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/cli/clitest"
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
	t.Run("a request without a token gets 401 with the README's two challenges", func(t *testing.T) {
		resp, body := call(t, d.ProxyURL, "/oidc/hello", "")
		if resp.StatusCode != 401 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		// Bearer, then DPoP: every provider accepts DPoP-bound tokens.
		want := readmeAnswerHeader(t, "HTTP/1.1 401 Unauthorized", "Www-Authenticate")
		if got := resp.Header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("WWW-Authenticate headers %q, the README shows %q", got, want)
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
	t.Run("the README's log line is the one the proxy prints", func(t *testing.T) {
		want := readmeDenialLine(t)
		var got string
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, "denied 403 GET /oidc/hello:") {
				got = line
			}
		}
		if got == "" {
			t.Fatalf("no 403 denial in the log:\n%s", logs.String())
		}
		// The README cannot know the time or the port the test's provider got.
		got = regexp.MustCompile(`^\[[^\]]*\]`).ReplaceAllString(got, "[...]")
		got = strings.ReplaceAll(got, d.IdPURL, exampleIdPURL)
		if got != want {
			t.Errorf("the proxy printed\n  %s\nthe README shows\n  %s", got, want)
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

// repoFile returns the text of a file of the repository, path relative to
// its root.
func repoFile(t *testing.T, path ...string) string {
	t.Helper()
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(append([]string{root}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// readmeAnswerHeader returns the values of header in the answer the
// README's walkthrough shows under statusLine, in order.
func readmeAnswerHeader(t *testing.T, statusLine, header string) []string {
	t.Helper()
	_, answer, ok := strings.Cut(repoFile(t, "README.md"), "\n"+statusLine+"\n")
	if !ok {
		t.Fatalf("README.md shows no %q answer", statusLine)
	}
	answer, _, _ = strings.Cut(answer, "\n\n") // the header block ends at the body
	var values []string
	for _, line := range strings.Split(answer, "\n") {
		if name, value, ok := strings.Cut(line, ": "); ok && name == header {
			values = append(values, value)
		}
	}
	if len(values) == 0 {
		t.Fatalf("README.md's %q answer shows no %s header", statusLine, header)
	}
	return values
}

// readmeDenialLine returns the proxy log line the README's walkthrough shows
// for the user without the scope.
func readmeDenialLine(t *testing.T) string {
	t.Helper()
	for _, line := range strings.Split(repoFile(t, "README.md"), "\n") {
		if strings.HasPrefix(line, "[...]") && strings.Contains(line, "denied 403 GET /oidc/hello:") {
			return line
		}
	}
	t.Fatal("README.md shows no proxy log line for the 403")
	return ""
}

func TestOptions(t *testing.T) {
	clitest.HelpAndVersion(t, "demo", "alg", func(args []string, stdout, stderr io.Writer) error {
		_, err := parseOptions(args, stdout, stderr)
		return err
	})
	t.Run("a stray argument is an error", func(t *testing.T) {
		if _, err := parseOptions([]string{"now"}, io.Discard, io.Discard); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("the defaults are make run's", func(t *testing.T) {
		o, err := parseOptions(nil, io.Discard, io.Discard)
		if err != nil || o.Module != "dist/scopegate.wasm" || o.Config != "examples/demo.json" || o.ProxyAddr != "127.0.0.1:8080" {
			t.Errorf("%+v, %v", o, err)
		}
	})
}

// TestABrokenConfigurationIsNamedBeforeAnythingStarts: the launcher checks
// the plugin configuration against the one cluster it provides and reports
// the file's line and column, before it listens anywhere.
func TestABrokenConfigurationIsNamedBeforeAnythingStarts(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "scopegate.wasm")
	os.WriteFile(module, []byte("\x00asm"), 0o644)
	for _, tc := range []struct{ name, config, want string }{
		{"invalid JSON", "{\n  \"rules\": [,]\n}\n", ":2:13: invalid JSON"},
		{"a cluster the launcher does not provide", `{"providers":[{"name":"a","remote_jwks":{"cluster":"keycloak","uri":"http://127.0.0.1:9000/certs"}}]}`, `cluster "keycloak"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "demo.json")
			os.WriteFile(cfg, []byte(tc.config), 0o644)
			_, err := start(context.Background(), options{ProxyAddr: "127.0.0.1:0", IdPAddr: "127.0.0.1:0", EchoAddr: "127.0.0.1:0",
				AdminAddr: "127.0.0.1:0", Module: module, Config: cfg, Alg: "RS256", Workers: 1, LogLevel: "info", Log: io.Discard})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestMakeRunSaysWhatItBuilds: on a cold Go build cache the module takes
// about two minutes to build; make run says so before it starts.
func TestMakeRunSaysWhatItBuilds(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is needed (the project is driven by its Makefile)")
	}
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("make", "-n", "-C", root, "run").Output()
	if err != nil {
		t.Fatalf("make -n run: %v", err)
	}
	text := string(out)
	say, build := strings.Index(text, "first build on a cold Go build cache takes ~2 minutes"), strings.Index(text, "buildwasm")
	if say < 0 || build < 0 || say > build {
		t.Errorf("make run does not announce the slow first build before starting it:\n%s", text)
	}
}
