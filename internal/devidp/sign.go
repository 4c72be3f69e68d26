package devidp

import (
	"fmt"
	"slices"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// Algorithms lists the JWS algorithms the development provider can sign with:
// every asymmetric one scopegate accepts by default, never HS*, whose shared
// secret a provider cannot publish in a JWKS.
var Algorithms = []string{
	"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512", "EdDSA",
}

// newSigningKey generates a key for alg. Key generation, JWK export and
// signing are testjwt's, the one JWS minting code of the repository; devidp
// only decides which algorithms a provider may use.
func newSigningKey(alg, kid string) (*testjwt.Key, error) {
	if !slices.Contains(Algorithms, alg) {
		return nil, fmt.Errorf("devidp: unsupported signing algorithm %q (supported: %v)", alg, Algorithms)
	}
	return testjwt.NewKey(alg, kid), nil
}
