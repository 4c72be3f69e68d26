package bench

import (
	"context"
	"io"
	"os"
	"testing"

	"github.com/scopegate/scopegate/host"
)

// BenchmarkColdStart measures loading the module the way a proxy does:
// compile, then the canary VM and one worker VM (_initialize, root context,
// on_vm_start, on_configure with the benchmark configuration). "uncached"
// compiles from scratch (a fresh compilation cache directory each time);
// "cached" reuses the compiled code. The pass-through module is the
// baseline; module-bytes is the .wasm file's size.
func BenchmarkColdStart(b *testing.B) {
	mods := []struct {
		name, pkg string
		config    []byte
	}{
		{"scopegate", modScopegate, pluginConfig()},
		{"passthrough", modPassthrough, nil},
	}
	for _, cached := range []bool{false, true} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			for _, m := range mods {
				b.Run(m.name, func(b *testing.B) {
					path := build(b, m.pkg)
					info, err := os.Stat(path)
					if err != nil {
						b.Fatal(err)
					}
					dir := b.TempDir()
					if cached {
						load(b, path, m.config, dir) // fill the cache
					}
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if !cached {
							b.StopTimer()
							dir = b.TempDir()
							b.StartTimer()
						}
						load(b, path, m.config, dir)
					}
					b.ReportMetric(float64(info.Size()), "module-bytes")
				})
			}
		})
	}
}

// load starts a host for module and closes it.
func load(b *testing.B, path string, config []byte, cacheDir string) {
	ctx := context.Background()
	h, err := host.New(ctx, host.Config{Module: path, PluginConfig: config, Log: io.Discard, CompilationCacheDir: cacheDir})
	if err != nil {
		b.Fatal(err)
	}
	h.Close(ctx)
}
