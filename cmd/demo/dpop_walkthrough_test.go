package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/internal/wasmbuild"
)

// TestDPoPWalkthrough runs the DPoP walkthrough of docs/sender-constrained.md
// against the demo, as a reader would paste it (the demo's real addresses
// in place of the default ports), and checks that every status it prints is
// the one the doc announces after it ("# → 200").
func TestDPoPWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the DPoP walkthrough (apt-get install curl)")
	}
	root, err := wasmbuild.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "sender-constrained.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Walkthrough: DPoP with `make run`")
	if !ok {
		t.Fatal("docs/sender-constrained.md has no DPoP walkthrough section")
	}
	_, script, ok := strings.Cut(section, "```sh\n")
	script, _, ok2 := strings.Cut(script, "```")
	if !ok || !ok2 {
		t.Fatal("the walkthrough has no sh block")
	}
	var want []string
	for _, m := range regexp.MustCompile(`(?m)^# → (\d{3})$`).FindAllStringSubmatch(script, -1) {
		want = append(want, m[1])
	}
	if len(want) < 4 {
		t.Fatalf("the walkthrough announces %d statuses", len(want))
	}

	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "dpop"), "./cmd/dpop")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cmd/dpop: %v\n%s", err, out)
	}
	d := startTestDemo(t, io.Discard)
	script = strings.NewReplacer(
		"http://127.0.0.1:9000", d.IdPURL,
		"http://127.0.0.1:8080", d.ProxyURL,
	).Replace(script)
	sh := exec.Command("sh", "-e", "-c", script)
	sh.Dir = dir
	// The walkthrough builds ./dpop itself; here the binary is already in dir.
	sh.Args[3] = strings.Replace(sh.Args[3], "go build -o dpop ./cmd/dpop", "true", 1)
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("the walkthrough failed: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the walkthrough printed %q, the doc announces %q", got, want)
	}
}
