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

const engineSample = `pkg: github.com/scopegate/scopegate/bench
BenchmarkEngine/wazero/floor-2     	1000000000	      2000 ns/op	         1.000 paired-x-floor
BenchmarkEngine/wazero/hit_minimal-2	1000000000	     12000 ns/op	         5.500 paired-x-floor
BenchmarkEngine/v8/floor-2         	1000000000	      1000 ns/op	         1.000 paired-x-floor
BenchmarkEngine/v8/hit_minimal-2   	1000000000	      6000 ns/op
BenchmarkEngine/v8/miss_ES512-2    	1000000000	  30000000 ns/op	     30000 paired-x-floor
BenchmarkOther-2                   	    1000	      1000 ns/op
`

func TestRenderEnginesPutsEachRowOfBothEnginesOnOneLine(t *testing.T) {
	results, _, err := parse(strings.NewReader(engineSample))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	renderEngines(&out, results)
	text := out.String()
	for _, want := range []string{
		"| request | wazero median | wazero x floor | v8 median | v8 x floor |",
		"| floor | 2.00 µs | 1.00x | 1.00 µs | 1.00x |",
		// The paired ratio when the row has one, else the ratio of medians.
		"| hit_minimal | 12.00 µs | 5.50x | 6.00 µs | 6.00x |",
		// A row one engine lacks leaves its cells empty.
		"| miss_ES512 |  |  | 30.00 ms | 30000.00x |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Other") {
		t.Errorf("a benchmark outside Engine/ got into the table:\n%s", text)
	}
}

func TestRenderEnginesWritesNothingWithoutEngineResults(t *testing.T) {
	results, _, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	renderEngines(&out, results)
	if out.Len() != 0 {
		t.Errorf("wrote %q for results without Engine/ benchmarks", out.String())
	}
}
