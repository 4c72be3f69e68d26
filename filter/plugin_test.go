package filter

import (
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/scopegate/scopegate/internal/version"
)

func TestConfigureLogsTheVersionAndWhatItEnforces(t *testing.T) {
	remote := `{"name":"%s","remote_jwks":{"cluster":"idp","uri":"https://idp.example.com/certs"}}`
	cases := []struct {
		name, cfg, want string
	}{
		{"one provider and one rule", `{"providers":[` + strings.ReplaceAll(remote, "%s", "a") + `],"rules":[{"match":{"prefix":"/"},"requires":{}}]}`,
			"scopegate " + version.Version + " configured: 1 provider, 1 rule"},
		{"two providers and no rules", `{"providers":[` + strings.ReplaceAll(remote, "%s", "a") + `,` + strings.ReplaceAll(remote, "%s", "b") + `]}`,
			"scopegate " + version.Version + " configured: 2 providers, 0 rules"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startFilter(t, tc.cfg)
			if logs := h.infoLogs(); !strings.Contains(logs, tc.want) {
				t.Errorf("info log lacks %q:\n%s", tc.want, logs)
			}
		})
	}
	t.Run("a rejected configuration logs no configured line", func(t *testing.T) {
		h, status := startFilterStatus(t, `{"providers":[{"name":"a"}]}`)
		if status != types.OnPluginStartStatusFailed {
			t.Fatal("accepted")
		}
		if logs := h.infoLogs(); strings.Contains(logs, "configured:") {
			t.Errorf("info log claims a configuration is in force:\n%s", logs)
		}
	})
}
