// Command benchtable turns `go test -bench` output into the Markdown tables kept
// in BENCHMARKS.md. Each benchmark is compared with its baseline: the sibling
// sub-benchmark (same parent name) whose last name element is one of
// "stdlib", "floor", "passthrough", "nofilter" or "baseline"; the ratio column
// is ns/op divided by the baseline's ns/op, both measured in the same run.
//
// Benchmarks named Engine/<engine>/<row> (bench.BenchmarkEngine: the same
// requests in wazero and in V8) get one more table, the engines side by side,
// each row with its median and its ratio to the engine's own floor.
//
// Usage: go test -run '^$' -bench . -benchmem ./... | go run ./internal/tools/benchtable
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// result is one benchmark line.
type result struct {
	pkg     string
	name    string // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	metrics []metric
}

type metric struct {
	value float64
	unit  string
}

func (r result) get(unit string) (float64, bool) {
	for _, m := range r.metrics {
		if m.unit == unit {
			return m.value, true
		}
	}
	return 0, false
}

var baselineNames = map[string]bool{"stdlib": true, "floor": true, "passthrough": true, "nofilter": true, "baseline": true}

var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(r io.Reader) ([]result, []string, error) {
	var out []result
	var header []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "cpu: "), strings.HasPrefix(line, "goos: "), strings.HasPrefix(line, "goarch: "):
			if !contains(header, line) {
				header = append(header, line)
			}
		case strings.HasPrefix(line, "Benchmark"):
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			if _, err := strconv.Atoi(f[1]); err != nil {
				continue
			}
			res := result{pkg: pkg, name: procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")}
			for i := 2; i+1 < len(f); i += 2 {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					break
				}
				res.metrics = append(res.metrics, metric{v, f[i+1]})
			}
			out = append(out, res)
		}
	}
	return out, header, sc.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func parent(name string) (string, string) {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

func render(w io.Writer, results []result) {
	baseline := map[string]float64{}
	for _, r := range results {
		p, last := parent(r.name)
		if baselineNames[last] {
			if ns, ok := r.get("ns/op"); ok {
				baseline[r.pkg+" "+p] = ns
			}
		}
	}
	pkg := ""
	for _, r := range results {
		if r.pkg != pkg {
			pkg = r.pkg
			fmt.Fprintf(w, "\n### %s\n\n", pkg)
			fmt.Fprintln(w, "| benchmark | ns/op | ratio to baseline | B/op | allocs/op | other |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---|")
		}
		ns, _ := r.get("ns/op")
		ratio := ""
		p, last := parent(r.name)
		if base, ok := baseline[r.pkg+" "+p]; ok && base > 0 {
			if baselineNames[last] {
				ratio = "1.00 (baseline)"
			} else {
				ratio = fmt.Sprintf("%.2fx", ns/base)
			}
		}
		bop, allocs := "", ""
		if v, ok := r.get("B/op"); ok {
			bop = strconv.FormatFloat(v, 'f', -1, 64)
		}
		if v, ok := r.get("allocs/op"); ok {
			allocs = strconv.FormatFloat(v, 'f', -1, 64)
		}
		var other []string
		for _, m := range r.metrics {
			switch m.unit {
			case "ns/op", "B/op", "allocs/op":
				continue
			}
			other = append(other, strconv.FormatFloat(m.value, 'g', 6, 64)+" "+m.unit)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.name, formatNs(ns), ratio, bop, allocs, strings.Join(other, ", "))
	}
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.0f (%.2f ms)", ns, ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.0f (%.1f µs)", ns, ns/1e3)
	default:
		return fmt.Sprintf("%.1f", ns)
	}
}

func main() {
	flag.Parse()
	results, header, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(results) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark lines on standard input")
		os.Exit(1)
	}
	for _, h := range header {
		fmt.Println("    " + h)
	}
	renderEngines(os.Stdout, results)
	render(os.Stdout, results)
}

// enginePrefix names the benchmarks renderEngines puts side by side.
const enginePrefix = "Engine/"

// renderEngines writes the Engine/<engine>/<row> results as one table: a
// line per row, for each engine its median and its "x floor", the
// paired-x-floor metric when the row has one (the median over rounds of the
// row's time over the floor's in the same round), else the ratio of medians.
// It writes nothing when there are no such results.
func renderEngines(w io.Writer, results []result) {
	var engines, rows []string
	byKey := map[string]result{}
	floor := map[string]float64{}
	for _, r := range results {
		rest, ok := strings.CutPrefix(r.name, enginePrefix)
		engine, row, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || strings.Contains(row, "/") {
			continue
		}
		if !contains(engines, engine) {
			engines = append(engines, engine)
		}
		if !contains(rows, row) {
			rows = append(rows, row)
		}
		byKey[engine+"/"+row] = r
		if baselineNames[row] {
			floor[engine], _ = r.get("ns/op")
		}
	}
	if len(engines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### Engines side by side (%s*)\n\n| request |", enginePrefix)
	for _, e := range engines {
		fmt.Fprintf(w, " %s median | %s x floor |", e, e)
	}
	fmt.Fprint(w, "\n|---|")
	fmt.Fprint(w, strings.Repeat("---:|---:|", len(engines)))
	fmt.Fprintln(w)
	for _, row := range rows {
		fmt.Fprintf(w, "| %s |", row)
		for _, e := range engines {
			r, ok := byKey[e+"/"+row]
			if !ok {
				fmt.Fprint(w, "  |  |")
				continue
			}
			ns, _ := r.get("ns/op")
			ratio := ""
			if x, ok := r.get("paired-x-floor"); ok {
				ratio = fmt.Sprintf("%.2fx", x)
			} else if floor[e] > 0 {
				ratio = fmt.Sprintf("%.2fx", ns/floor[e])
			}
			fmt.Fprintf(w, " %s | %s |", formatDuration(ns), ratio)
		}
		fmt.Fprintln(w)
	}
}

// formatDuration prints nanoseconds in the unit that keeps three digits.
func formatDuration(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.0f ns", ns)
	}
}
