package wasmbuild

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOverlayFlagPointsAtTheGeneratedOverlay(t *testing.T) {
	root := t.TempDir()
	args, err := overlayFlag(root)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(root, "build", "overlay", "overlay.json")
	if len(args) != 2 || args[0] != "-overlay" || args[1] != want {
		t.Fatalf("overlayFlag = %q, want [-overlay %s]", args, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatal(err)
	}
}
