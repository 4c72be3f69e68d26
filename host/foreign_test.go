package host

import "testing"

func TestVerifySignatureModeNames(t *testing.T) {
	for _, m := range []VerifySignatureMode{VerifySignaturePresent, VerifySignatureAbsent, VerifySignatureUnimplemented, VerifySignatureTrap} {
		got, err := ParseVerifySignatureMode(m.String())
		if err != nil || got != m {
			t.Fatalf("%v: parsed as %v, %v", m, got, err)
		}
	}
	if m, err := ParseVerifySignatureMode(""); err != nil || m != VerifySignaturePresent {
		t.Fatalf("empty: %v, %v; want present", m, err)
	}
	if _, err := ParseVerifySignatureMode("sometimes"); err == nil {
		t.Fatal("an unknown mode parsed")
	}
}
