package main

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/scopegate/scopegate/jwt
cpu: Example CPU
BenchmarkVerify/RS256/stdlib-2         	   20000	     50000 ns/op	     100 B/op	       2 allocs/op
BenchmarkVerify/RS256/scopegate-2      	   20000	     55000 ns/op	     300 B/op	       6 allocs/op
BenchmarkParse-2                       	 1000000	      1200 ns/op
PASS
`

func TestRenderComputesRatiosAgainstTheSiblingBaseline(t *testing.T) {
	results, header, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 || len(header) != 3 {
		t.Fatalf("parsed %d results and %d header lines, want 3 and 3", len(results), len(header))
	}
	var out bytes.Buffer
	render(&out, results)
	text := out.String()
	for _, want := range []string{
		"| Verify/RS256/stdlib | 50000 (50.0 µs) | 1.00 (baseline) | 100 | 2 |",
		"| Verify/RS256/scopegate | 55000 (55.0 µs) | 1.10x | 300 | 6 |",
		"| Parse | 1200 (1.2 µs) |  |  |  |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
}
