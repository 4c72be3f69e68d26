package version

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoFile reads a file given relative to the repository root.
func repoFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// shippedFiles are the files a user reads or copies that name a version.
func shippedFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"README.md", "docs/*.md", "envoy/*.yaml", "envoy/istio/*.yaml"} {
		m, err := filepath.Glob(filepath.Join("..", "..", filepath.FromSlash(pattern)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			rel, _ := filepath.Rel(filepath.Join("..", ".."), f)
			files = append(files, filepath.ToSlash(rel))
		}
	}
	return files
}

func TestVersionIsASemanticVersion(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(Version) {
		t.Fatalf("Version %q is not MAJOR.MINOR.PATCH[-PRERELEASE] without a leading v", Version)
	}
}

// TestTheVersionIsTheSameEverywhere: CHANGELOG.md has a section for Version,
// every image or module the examples name is a version the changelog lists,
// and the docs quote the configured line with this version.
func TestTheVersionIsTheSameEverywhere(t *testing.T) {
	changelog := repoFile(t, "CHANGELOG.md")
	released := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+[^\]]*)\]( - (\d{4}-\d{2}-\d{2}|Unreleased))?$`).FindAllStringSubmatch(changelog, -1) {
		released[m[1]] = true
	}
	if !released[Version] {
		t.Fatalf("CHANGELOG.md has no section \"## [%s] - <date>\" for the version in internal/version", Version)
	}
	if !strings.Contains(changelog, "## [Unreleased]") {
		t.Error(`CHANGELOG.md has no "## [Unreleased]" section for changes after the release`)
	}
	images := regexp.MustCompile(`ghcr\.io/scopegate/scopegate:(\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?)`)
	modules := regexp.MustCompile(`/scopegate/(\d+\.\d+\.\d+[^/]*)/scopegate\.wasm`)
	configured := regexp.MustCompile(`scopegate (\d+\.\d+\.\d+\S*) configured`)
	var seen, quoted int
	for _, f := range shippedFiles(t) {
		text := repoFile(t, f)
		for _, re := range []*regexp.Regexp{images, modules} {
			for _, m := range re.FindAllStringSubmatch(text, -1) {
				seen++
				if !released[m[1]] {
					t.Errorf("%s names %s, but CHANGELOG.md has no version %s", f, m[0], m[1])
				}
			}
		}
		for _, m := range configured.FindAllStringSubmatch(text, -1) {
			quoted++
			if m[1] != Version {
				t.Errorf("%s quotes %q, but the filter logs version %s", f, m[0], Version)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no image reference found in the shipped files; is the test reading the right ones?")
	}
	if quoted == 0 {
		t.Fatal(`no shipped file quotes the "scopegate <version> configured" log line; is the test reading the right ones, or did its wording change?`)
	}
}
