package envoycrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// testKeys are generated once: RSA generation is slow.
type testKeys struct {
	rsa       *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	rsaDER    []byte
	ecDER     []byte
	edDER     []byte
	text      []byte
	pkcs1     []byte // RSASSA-PKCS1-v1_5 SHA-256 signature of text
	pss       []byte // RSASSA-PSS SHA-256 signature of text
	ecDERSig  []byte // DER ECDSA signature of SHA-256(text)
	ecRawSig  []byte // the same R || S
	edSig     []byte
	sha1PKCS1 []byte
}

var keys = func() *testKeys {
	k := &testKeys{text: []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9")}
	var err error
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	k.rsaDER, err = x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	must(err)
	k.ecDER, err = x509.MarshalPKIXPublicKey(&k.ec.PublicKey)
	must(err)
	k.edDER, err = x509.MarshalPKIXPublicKey(k.ed.Public())
	must(err)
	d := sha256.Sum256(k.text)
	k.pkcs1, err = rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA256, d[:])
	must(err)
	k.pss, err = rsa.SignPSS(rand.Reader, k.rsa, crypto.SHA256, d[:], nil)
	must(err)
	k.ecDERSig, err = ecdsa.SignASN1(rand.Reader, k.ec, d[:])
	must(err)
	r, s, err := ecdsa.Sign(rand.Reader, k.ec, d[:])
	must(err)
	k.ecRawSig = append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
	k.edSig = ed25519.Sign(k.ed, k.text)
	h1 := crypto.SHA1.New()
	h1.Write(k.text)
	k.sha1PKCS1, err = rsa.SignPKCS1v15(nil, k.rsa, crypto.SHA1, h1.Sum(nil))
	must(err)
	return k
}()

func TestVerifySignatureAnswersLikeEnvoy(t *testing.T) {
	k := keys
	tampered := bytes.Clone(k.pkcs1)
	tampered[10] ^= 1
	other := bytes.Clone(k.text)
	other[0] ^= 1
	cases := []struct {
		name           string
		hash           string
		key, sig, text []byte
		valid          bool
		err            string
	}{
		{"a PKCS#1 v1.5 RSA signature verifies", "sha256", k.rsaDER, k.pkcs1, k.text, true, ""},
		{"the hash name is case-insensitive", "SHA256", k.rsaDER, k.pkcs1, k.text, true, ""},
		{"sha1 is one of the hashes", "sha1", k.rsaDER, k.sha1PKCS1, k.text, true, ""},
		{"a tampered RSA signature does not", "sha256", k.rsaDER, tampered, k.text, false, msgVerifyFailed},
		{"another text does not", "sha256", k.rsaDER, k.pkcs1, other, false, msgVerifyFailed},
		{"the wrong hash does not", "sha384", k.rsaDER, k.pkcs1, k.text, false, msgVerifyFailed},
		{"an RSA-PSS signature does not: PKCS#1 v1.5 only", "sha256", k.rsaDER, k.pss, k.text, false, msgVerifyFailed},
		{"a DER ECDSA signature verifies", "sha256", k.ecDER, k.ecDERSig, k.text, true, ""},
		{"a raw R||S ECDSA signature does not: DER only", "sha256", k.ecDER, k.ecRawSig, k.text, false, msgVerifyFailed},
		{"an Ed25519 key cannot verify with a digest", "sha256", k.edDER, k.edSig, k.text, false, msgInitFailed},
		{"an Ed25519 key fails with sha512 too", "sha512", k.edDER, k.edSig, k.text, false, msgInitFailed},
		{"an unknown hash is not supported", "md5", k.rsaDER, k.pkcs1, k.text, false, "md5 is not supported."},
		{"an empty hash is not supported", "", k.rsaDER, k.pkcs1, k.text, false, " is not supported."},
		{"the hash is judged before the key", "sha3", nil, nil, nil, false, "sha3 is not supported."},
		{"no key cannot initialize", "sha256", nil, k.pkcs1, k.text, false, msgInitFailed},
		{"garbage as a key cannot initialize", "sha256", []byte{0x30, 0x03, 1, 2, 3}, k.pkcs1, k.text, false, msgInitFailed},
		{"a PKCS#1 (not SPKI) key cannot initialize", "sha256", x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey), k.pkcs1, k.text, false, msgInitFailed},
		{"bytes after the key are ignored", "sha256", append(bytes.Clone(k.rsaDER), 0xde, 0xad), k.pkcs1, k.text, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, st := VerifySignature(EncodeArguments(c.hash, c.key, c.sig, c.text))
			if st != StatusOK {
				t.Fatalf("status %d", st)
			}
			got, ok := DecodeResult(out)
			if !ok || got.Valid != c.valid || got.Error != c.err {
				t.Fatalf("result %+v (ok %v), want valid %v error %q", got, ok, c.valid, c.err)
			}
		})
	}
}

func TestVerifySignatureParsesArgumentsLikeProtobuf(t *testing.T) {
	k := keys
	valid := EncodeArguments("sha256", k.rsaDER, k.pkcs1, k.text)
	tag := func(num protowire.Number, typ protowire.Type) []byte { return protowire.AppendTag(nil, num, typ) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bad := []struct {
		name string
		args []byte
	}{
		{"a truncated length", []byte{0x0a, 0x7f}},
		{"a truncated varint", []byte{0x0a, 0x80}},
		{"field number 0", cat([]byte{0x02, 0x00}, valid)},
		{"a stray end-group", cat(valid, tag(9, protowire.EndGroupType))},
		{"wire type 6", cat(valid, []byte{0x0e})},
		{"wire type 7", cat(valid, []byte{0x0f})},
		{"an unterminated group", cat(valid, tag(9, protowire.StartGroupType))},
		{"a hash_function that is not UTF-8", EncodeArguments("sha\xff256", k.rsaDER, k.pkcs1, k.text)},
		{"a field number beyond 2^29-1", cat(valid, protowire.AppendVarint(nil, uint64(1<<29)<<3))},
	}
	for _, c := range bad {
		t.Run(c.name+" is BadArgument with no result", func(t *testing.T) {
			out, st := VerifySignature(c.args)
			if st != StatusBadArgument || out != nil {
				t.Fatalf("status %d, result %x", st, out)
			}
		})
	}
	good := []struct {
		name  string
		args  []byte
		valid bool
	}{
		{"unknown fields are skipped", cat(valid, tag(5, protowire.BytesType), protowire.AppendString(nil, "-----BEGIN"), tag(9, protowire.VarintType), []byte{1},
			tag(10, protowire.Fixed32Type), make([]byte, 4), tag(11, protowire.Fixed64Type), make([]byte, 8),
			tag(12, protowire.StartGroupType), tag(1, protowire.VarintType), []byte{1}, tag(12, protowire.EndGroupType)), true},
		{"the last occurrence of a field wins", cat(EncodeArguments("md5", nil, nil, nil), valid), true},
		{"a known field with another wire type is skipped as unknown", cat(valid, tag(1, protowire.VarintType), []byte{7}), true},
		{"fields in any order", cat(tag(4, protowire.BytesType), protowire.AppendBytes(nil, k.text), tag(3, protowire.BytesType), protowire.AppendBytes(nil, k.pkcs1),
			tag(2, protowire.BytesType), protowire.AppendBytes(nil, k.rsaDER), tag(1, protowire.BytesType), protowire.AppendString(nil, "sha256")), true},
		{"empty arguments parse (and name no hash)", nil, false},
	}
	for _, c := range good {
		t.Run(c.name, func(t *testing.T) {
			out, st := VerifySignature(c.args)
			r, ok := DecodeResult(out)
			if st != StatusOK || !ok || r.Valid != c.valid {
				t.Fatalf("status %d, result %+v (ok %v), want valid %v", st, r, ok, c.valid)
			}
		})
	}
}

func TestEncodeResultLeavesOutDefaults(t *testing.T) {
	if got := EncodeResult(Result{Valid: true}); !bytes.Equal(got, []byte{0x08, 0x01}) {
		t.Fatalf("valid: %x", got)
	}
	if got := EncodeResult(Result{Error: "x"}); !bytes.Equal(got, []byte{0x12, 0x01, 'x'}) {
		t.Fatalf("invalid: %x", got)
	}
	if got := EncodeResult(Result{}); len(got) != 0 {
		t.Fatalf("zero: %x", got)
	}
}

// FuzzVerifySignature: any argument bytes get BadArgument without a result
// or Ok with a result that decodes, never a panic.
func FuzzVerifySignature(f *testing.F) {
	k := keys
	f.Add(EncodeArguments("sha256", k.rsaDER, k.pkcs1, k.text))
	f.Add(EncodeArguments("sha256", k.ecDER, k.ecDERSig, k.text))
	f.Add([]byte{0x0a, 0x7f})
	f.Fuzz(func(t *testing.T, args []byte) {
		out, st := VerifySignature(args)
		switch st {
		case StatusBadArgument:
			if out != nil {
				t.Fatal("BadArgument with a result")
			}
		case StatusOK:
			if r, ok := DecodeResult(out); !ok || (r.Valid == (r.Error != "")) {
				t.Fatalf("result %x decodes to %+v (ok %v)", out, r, ok)
			}
		default:
			t.Fatalf("status %d", st)
		}
	})
}
