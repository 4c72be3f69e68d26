package jwt

import "testing"

func TestAlgNamesRoundTrip(t *testing.T) {
	for a := RS256; a < algEnd; a++ {
		got, ok := ParseAlg(a.String())
		if !ok || got != a {
			t.Errorf("ParseAlg(%q) = %v, %v", a.String(), got, ok)
		}
	}
	for _, bad := range []string{"", "none", "rs256", "ES256K", "Ed25519", "HS1"} {
		if _, ok := ParseAlg(bad); ok {
			t.Errorf("ParseAlg(%q) accepted", bad)
		}
	}
	if Alg(0).String() != "" || algEnd.String() != "" {
		t.Errorf("invalid algs have names")
	}
}

func TestParseAlgSet(t *testing.T) {
	t.Run("the default set is every asymmetric algorithm", func(t *testing.T) {
		set, err := ParseAlgSet([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
		if err != nil || set != DefaultAlgs {
			t.Fatalf("set %v, err %v", set, err)
		}
		for _, hs := range []Alg{HS256, HS384, HS512} {
			if DefaultAlgs.Has(hs) {
				t.Fatalf("DefaultAlgs has %v", hs)
			}
		}
	})
	t.Run("listed HMAC algorithms are included", func(t *testing.T) {
		set, err := ParseAlgSet([]string{"HS256", "ES256"})
		if err != nil || !set.Has(HS256) || !set.Has(ES256) || set.Has(RS256) || set.String() != "ES256 HS256" {
			t.Fatalf("set %v, err %v", set, err)
		}
	})
	t.Run("none is rejected and named", func(t *testing.T) {
		_, err := ParseAlgSet([]string{"RS256", "none"})
		if err == nil || err.Error()[:len(`unsupported algorithm "none"`)] != `unsupported algorithm "none"` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("an empty list is rejected", func(t *testing.T) {
		if _, err := ParseAlgSet(nil); err == nil {
			t.Fatal("accepted an empty list")
		}
	})
}
