package filter

// TEMPORARY: a local_jwks-only stand-in for filter-keys' keyStore, deleted as
// soon as filter/keys.go lands. Remote providers are reported unavailable.

import (
	"time"

	"github.com/scopegate/scopegate/jwt"
)

type keyStatus uint8

const (
	keysReady keyStatus = iota
	keysPending
	keysUnavailable
)

type keyStore struct{}

func newKeyStore(*Config, *metrics, func() time.Time) *keyStore { return &keyStore{} }
func (s *keyStore) start()                                      {}
func (s *keyStore) onTick()                                     {}
func (s *keyStore) keys(p *Provider) (*jwt.KeySet, keyStatus) {
	if p.LocalJWKS != nil {
		return p.LocalJWKS, keysReady
	}
	return nil, keysUnavailable
}
func (s *keyStore) waitForKeys(*Provider, uint32, func()) bool           { return false }
func (s *keyStore) refetchForKid(*Provider, string, uint32, func()) bool { return false }
func (s *keyStore) cancel(uint32)                                        {}
