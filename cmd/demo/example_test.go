package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/filter"
)

// TestExampleConfiguration checks that the configuration the docs show is
// valid, names only the cluster the launcher provides, and survives the
// launcher's URL substitution.
func TestExampleConfiguration(t *testing.T) {
	raw := []byte(repoFile(t, "examples", "demo.json"))
	for _, idp := range []string{exampleIdPURL, "http://127.0.0.1:45678"} {
		t.Run("with the identity provider at "+idp, func(t *testing.T) {
			data := pluginConfigFor(raw, idp)
			cfg, err := filter.ParseConfig(data)
			if err != nil {
				t.Fatalf("examples/demo.json: %v", err)
			}
			if got := cfg.Clusters(); !slices.Equal(got, []string{"idp"}) {
				t.Errorf("clusters = %v, want [idp] (the launcher maps only idp)", got)
			}
			p := cfg.Providers[0]
			if p.Issuer != idp || p.Discovery == nil || !strings.HasPrefix(p.Discovery.URI, idp+"/") {
				t.Errorf("issuer %q, discovery %+v; want both at %s", p.Issuer, p.Discovery, idp)
			}
		})
	}
}
