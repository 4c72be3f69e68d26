package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scopegate/scopegate/filter"
)

// CheckPluginConfig checks a scopegate plugin configuration read from path
// before a proxy loads it, so a mistake is reported where it is, in the
// terms of the file: ParsePluginConfig, then CheckClusters. It returns the
// parsed configuration.
func CheckPluginConfig(path string, data []byte, clusters []string) (*filter.Config, error) {
	cfg, err := ParsePluginConfig(path, data)
	if err != nil {
		return nil, err
	}
	return cfg, CheckClusters(path, cfg, clusters)
}

// ParsePluginConfig reads data, the file at path, as scopegate's plugin
// configuration: a JSON syntax error comes with its line and column, then
// scopegate's own parser names the field (and suggests the field meant).
func ParsePluginConfig(path string, data []byte) (*filter.Config, error) {
	if err := checkJSON(data); err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	cfg, err := filter.ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// CheckClusters requires every cluster cfg fetches keys through to be one
// of clusters, the ones the proxy was given: a callout to any other fails
// and every request needing those keys would get 503.
func CheckClusters(path string, cfg *filter.Config, clusters []string) error {
	for _, c := range cfg.Clusters() {
		if !slices.Contains(clusters, c) {
			given := "none"
			if len(clusters) > 0 {
				given = strings.Join(clusters, ", ")
			}
			return fmt.Errorf("%s: the configuration fetches keys through cluster %q, which the proxy was not given (clusters: %s); add -cluster %s=http://host:port", path, c, given, c)
		}
	}
	return nil
}

// checkJSON reports the first JSON syntax error of data as
// "<line>:<column>: invalid JSON: <reason>" (1-based, columns in bytes).
func checkJSON(data []byte) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return errors.New("1:1: invalid JSON: the file is empty (the plugin configuration is a JSON object)")
	}
	var v any
	err := json.Unmarshal(data, &v)
	var syntax *json.SyntaxError
	if !errors.As(err, &syntax) {
		return nil // valid JSON; anything else is the parser's to judge
	}
	line, col := position(data, int(syntax.Offset))
	return fmt.Errorf("%d:%d: invalid JSON: %s", line, col, syntax.Error())
}

// position returns the line and column of the byte the JSON decoder stopped
// at: it reports an error after reading offset bytes, so the culprit is the
// byte before (or the end of the input).
func position(data []byte, offset int) (line, col int) {
	at := min(max(offset-1, 0), len(data))
	line = 1 + strings.Count(string(data[:at]), "\n")
	col = at - strings.LastIndexByte(string(data[:at]), '\n')
	return line, col
}
