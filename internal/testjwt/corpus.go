package testjwt

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FuzzCorpus returns the string and []byte inputs of a Go fuzz corpus
// directory (testdata/fuzz/<target>), the tokens and texts the fuzzer found
// interesting, for tests that replay them outside the fuzz target.
func FuzzCorpus(dir string) ([]string, error) {
	files, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			arg, ok := strings.CutPrefix(line, "string(")
			if !ok {
				arg, ok = strings.CutPrefix(line, "[]byte(")
			}
			if !ok {
				continue
			}
			s, err := strconv.Unquote(strings.TrimSuffix(arg, ")"))
			if err != nil {
				return nil, errors.New(f.Name() + ": " + err.Error())
			}
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no inputs in " + dir)
	}
	return out, nil
}
