package e2e

// Set-up for the tests against panva's oidc-provider (an independent,
// certified OpenID provider): installing its npm packages at the versions
// pinned by e2e/package-lock.json, and starting and restarting provider
// processes. Every helper here carries the oidc prefix; the rest of the e2e
// package has its own harness.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// oidcInstallHint says how to get what the suite needs; it is part of every
// failure caused by a missing Node.js or npm. These tests never skip.
const oidcInstallHint = "the oidc-provider end-to-end tests need Node.js 20 (or newer) and npm on PATH; " +
	"install them with your package manager (Debian/Ubuntu: `sudo apt-get install nodejs npm`) " +
	"or from https://nodejs.org/en/download, then run `make test` again"

var (
	oidcSetupOnce sync.Once
	oidcSetupErr  error
	oidcDir       string // absolute path of e2e/
)

// oidcSetup makes sure node and npm exist and that e2e/node_modules matches
// the committed package-lock.json (running `npm ci` when it is missing or
// stale). It fails the test, with install instructions, when it cannot.
func oidcSetup(t *testing.T) {
	t.Helper()
	oidcSetupOnce.Do(func() { oidcSetupErr = oidcInstall() })
	if oidcSetupErr != nil {
		t.Fatal(oidcSetupErr)
	}
}

func oidcInstall() error {
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		return err
	}
	oidcDir = filepath.Join(root, "e2e")
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: %s", tool, oidcInstallHint)
		}
	}
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return fmt.Errorf("running node --version: %v; %s", err, oidcInstallHint)
	}
	var major int
	fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(string(out)), "v"), "%d", &major)
	if major < 20 {
		return fmt.Errorf("node %s is too old: %s", strings.TrimSpace(string(out)), oidcInstallHint)
	}
	lock, err := os.ReadFile(filepath.Join(oidcDir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("reading e2e/package-lock.json: %w", err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	// The stamp records which lock file node_modules was installed from.
	stamp := filepath.Join(oidcDir, "node_modules", ".scopegate-lock-sha256")
	if have, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(have)) == want {
		if _, err := os.Stat(filepath.Join(oidcDir, "node_modules", "oidc-provider", "package.json")); err == nil {
			return nil
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = oidcDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("`npm ci` in e2e/ failed: %v\n%s\n(npm needs the registry, or a populated cache, to install the pinned oidc-provider)", err, out)
	}
	return os.WriteFile(stamp, []byte(want+"\n"), 0o644)
}

// oidcProvider is one running oidc-provider process (e2e/oidc/server.mjs).
type oidcProvider struct {
	Alg    string
	Port   int
	Issuer string
	Kid    string // kid of the current signing key

	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{}
}

// oidcReady is the line server.mjs prints once it listens.
type oidcReady struct {
	Ready  bool   `json:"ready"`
	Issuer string `json:"issuer"`
	Port   int    `json:"port"`
	Kid    string `json:"kid"`
	Alg    string `json:"alg"`
}

// oidcStart starts a provider signing with alg on a free loopback port.
func oidcStart(t *testing.T, alg string) *oidcProvider {
	t.Helper()
	oidcSetup(t)
	p := &oidcProvider{Alg: alg}
	if err := p.launch(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

func (p *oidcProvider) launch(port int) error {
	cmd := exec.Command("node", filepath.Join("oidc", "server.mjs"), fmt.Sprint(port))
	cmd.Dir = oidcDir
	cmd.Env = append(os.Environ(), "OIDC_ALG="+p.Alg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p.stderr = &bytes.Buffer{}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting oidc-provider: %w; %s", err, oidcInstallHint)
	}
	p.cmd = cmd
	ready := make(chan oidcReady, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r oidcReady
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Ready {
				ready <- r
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	p.done = make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(p.done)
	select {
	case r := <-ready:
		p.Port, p.Issuer, p.Kid = r.Port, r.Issuer, r.Kid
		return nil
	case <-p.done:
		return fmt.Errorf("oidc-provider (%s) exited before it was ready:\n%s", p.Alg, p.stderr)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return fmt.Errorf("oidc-provider (%s) not ready after 30 s:\n%s", p.Alg, p.stderr)
	}
}

// stop ends the provider process (SIGTERM, then SIGKILL after 5 s).
func (p *oidcProvider) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// oidcRestart stops the provider and starts it again on the same port and
// issuer with a freshly generated signing key: how a real provider rotates.
func (p *oidcProvider) oidcRestart(t *testing.T) {
	t.Helper()
	oldKid := p.Kid
	p.stop()
	var err error
	for range 20 { // the port is ours, but give the kernel a moment to release it
		if err = p.launch(p.Port); err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if p.Kid == oldKid {
		t.Fatalf("restart kept kid %s", oldKid)
	}
}

// oidcToken gets an access token with the client-credentials grant.
// resource selects the resource server ("" = the default, 300 s tokens;
// "urn:scopegate:short" = 1 s tokens).
func (p *oidcProvider) oidcToken(t *testing.T, scope, resource string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
	if resource != "" {
		form.Set("resource", resource)
	}
	tok, _ := p.oidcTokenRequest(t, "scopegate-e2e", form, nil)
	return tok
}

// oidcTokenRequest posts form to the token endpoint as client (secret
// e2e-secret, HTTP Basic) with extra headers, and returns the access token
// and its token_type.
func (p *oidcProvider) oidcTokenRequest(t *testing.T, client string, form url.Values, headers map[string]string) (token, tokenType string) {
	t.Helper()
	req, _ := http.NewRequest("POST", p.Issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, "e2e-secret")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("oidc-provider token request: %d %s", resp.StatusCode, body)
	}
	return tr.AccessToken, tr.TokenType
}

// oidcSegment decodes one part (0 header, 1 payload) of a compact JWS.
func oidcSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// oidcTamper returns tok with its payload re-encoded with claim set to value;
// the signature no longer matches.
func oidcTamper(t *testing.T, tok, claim string, value any) string {
	t.Helper()
	payload := oidcSegment(t, tok, 1)
	payload[claim] = value
	raw, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

var errOIDCNoHeader = errors.New("header absent")

// oidcHeader returns the first value of header name in pairs.
func oidcHeader(pairs [][2]string, name string) (string, error) {
	for _, kv := range pairs {
		if strings.EqualFold(kv[0], name) {
			return kv[1], nil
		}
	}
	return "", errOIDCNoHeader
}
