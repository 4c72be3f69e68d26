package abi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// wire builds a header map by hand (independently of EncodeHeaderMap).
func wire(pairs ...[2]string) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pairs)))
	for _, p := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p[1])))
	}
	for _, p := range pairs {
		b = append(append(b, p[0]...), 0)
		b = append(append(b, p[1]...), 0)
	}
	return b
}

func TestEncodeHeaderMap(t *testing.T) {
	tests := []struct {
		name  string
		pairs [][2]string
	}{
		{"an empty map is just a zero count", nil},
		{"one pair is count, sizes, then NUL-terminated key and value", [][2]string{{":method", "GET"}}},
		{"empty values keep their NUL", [][2]string{{"x-empty", ""}, {"", "v"}}},
		{"repeated keys stay in order", [][2]string{{"a", "1"}, {"a", "2"}, {"b", "3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeHeaderMap(nil, tt.pairs)
			if want := wire(tt.pairs...); !slices.Equal(got, want) {
				t.Fatalf("EncodeHeaderMap = %v, want %v", got, want)
			}
			if len(got) != HeaderMapSize(tt.pairs) {
				t.Fatalf("HeaderMapSize = %d, encoded %d bytes", HeaderMapSize(tt.pairs), len(got))
			}
		})
	}
	t.Run("it appends after existing bytes", func(t *testing.T) {
		got := EncodeHeaderMap([]byte("xy"), [][2]string{{"k", "v"}})
		if want := append([]byte("xy"), wire([2]string{"k", "v"})...); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("it does not allocate when the buffer has room", func(t *testing.T) {
		pairs := [][2]string{{"content-type", "application/json"}, {"www-authenticate", "Bearer"}}
		buf := make([]byte, 0, 256)
		if n := testing.AllocsPerRun(100, func() { buf = EncodeHeaderMap(buf[:0], pairs) }); n != 0 {
			t.Fatalf("%v allocations per encode, want 0", n)
		}
	})
}

func TestDecodeHeaderMap(t *testing.T) {
	valid := []struct {
		name string
		data []byte
		want [][2]string
	}{
		{"no bytes (the host's empty answer) is an empty map", nil, nil},
		{"a zero count is an empty map", wire(), nil},
		{"pairs come back in order", wire([2]string{":path", "/a"}, [2]string{"authorization", "Bearer x"}),
			[][2]string{{":path", "/a"}, {"authorization", "Bearer x"}}},
		{"empty keys and values survive", wire([2]string{"", ""}, [2]string{"k", ""}), [][2]string{{"", ""}, {"k", ""}}},
		{"values may contain any byte but NUL", wire([2]string{"k", "\xff\x01 v"}), [][2]string{{"k", "\xff\x01 v"}}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeHeaderMap(tt.data)
			if err != nil {
				t.Fatalf("DecodeHeaderMap: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}

	good := wire([2]string{"k", "v"})
	truncated := good[:len(good)-1]
	noNUL := slices.Clone(good)
	noNUL[len(noNUL)-1] = 'x'
	hugeCount := binary.LittleEndian.AppendUint32(nil, 1<<30)
	bigSize := slices.Clone(good)
	binary.LittleEndian.PutUint32(bigSize[4:], 1<<31)
	malformed := []struct {
		name string
		data []byte
	}{
		{"fewer than four bytes is rejected", []byte{1, 0}},
		{"a count larger than the data can hold is rejected", hugeCount},
		{"a key size past the end is rejected", bigSize},
		{"a missing final NUL is rejected", truncated},
		{"a value not followed by NUL is rejected", noNUL},
		{"trailing bytes are rejected", append(slices.Clone(good), 0)},
	}
	for _, tt := range malformed {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeHeaderMap(tt.data)
			if !errors.Is(err, errHeaderMap) {
				t.Fatalf("DecodeHeaderMap = %q, %v; want an errHeaderMap error", got, err)
			}
		})
	}
	t.Run("decoding costs two allocations whatever the pair count", func(t *testing.T) {
		data := wire([2]string{"a", "1"}, [2]string{"b", "2"}, [2]string{"c", "3"}, [2]string{"d", "4"})
		if n := testing.AllocsPerRun(100, func() { _, _ = DecodeHeaderMap(data) }); n > 2 {
			t.Fatalf("%v allocations, want <= 2", n)
		}
	})
}

func TestEncodePropertyPath(t *testing.T) {
	tests := []struct {
		name string
		path []string
		want string
	}{
		{"one segment has no separator", []string{"plugin_name"}, "plugin_name"},
		{"segments are joined by NUL without a trailing NUL", []string{"request", "headers", "x"}, "request\x00headers\x00x"},
		{"no segments is empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(EncodePropertyPath(nil, tt.path)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzDecodeHeaderMap checks that any input decodes without panicking,
// that whatever decodes re-encodes to the same bytes, and that
// ParseHeaderMap accepts the same inputs and its cursor reads the same pairs.
func FuzzDecodeHeaderMap(f *testing.F) {
	f.Add([]byte(nil))
	f.Add(wire())
	f.Add(wire([2]string{":method", "GET"}, [2]string{":path", "/"}, [2]string{"authorization", "Bearer a.b.c"}))
	f.Add(wire([2]string{"", ""}))
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, err := DecodeHeaderMap(data)
		m, errInPlace := ParseHeaderMap(data)
		if (err == nil) != (errInPlace == nil) {
			t.Fatalf("DecodeHeaderMap: %v; ParseHeaderMap: %v", err, errInPlace)
		}
		if err != nil {
			return
		}
		var walked [][2]string
		for cur := m.Cursor(); cur.Next(); {
			walked = append(walked, [2]string{cur.Key(), cur.Value()})
		}
		if !slices.Equal(walked, pairs) {
			t.Fatalf("the cursor read %q, DecodeHeaderMap %q", walked, pairs)
		}
		if len(pairs) == 0 {
			if len(data) != 0 && len(data) != 4 {
				t.Fatalf("%d bytes decoded to an empty map", len(data))
			}
			return
		}
		if again := EncodeHeaderMap(nil, pairs); !slices.Equal(again, data) {
			t.Fatalf("round trip changed the bytes:\n in %v\nout %v", data, again)
		}
	})
}

func TestHeaderMapReadsInPlace(t *testing.T) {
	pairs := [][2]string{{":method", "GET"}, {"", ""}, {"authorization", "Bearer a.b.c"}, {"x", ""}, {"cookie", "a=1; b=2"}}
	data := wire(pairs...)
	m, err := ParseHeaderMap(data)
	if err != nil {
		t.Fatal(err)
	}
	walk := func(m HeaderMap) [][2]string {
		var got [][2]string
		for cur := m.Cursor(); cur.Next(); {
			if cur.KeyLen() != len(cur.Key()) {
				t.Fatalf("KeyLen %d for key %q", cur.KeyLen(), cur.Key())
			}
			got = append(got, [2]string{cur.Key(), cur.Value()})
		}
		return got
	}
	t.Run("the cursor returns the pairs DecodeHeaderMap does, in order", func(t *testing.T) {
		if got := walk(m); m.Len() != len(pairs) || !slices.Equal(got, pairs) {
			t.Fatalf("walked %q (Len %d), want %q", got, m.Len(), pairs)
		}
	})
	t.Run("keys and values alias the map's bytes", func(t *testing.T) {
		data := wire(pairs...)
		m, _ := ParseHeaderMap(data)
		cur := m.Cursor()
		cur.Next()
		v := cur.Value()
		data[bytes.Index(data, []byte("GET"))] = 'P'
		if v != "PET" {
			t.Fatalf("value %q did not change with the bytes under it", v)
		}
	})
	t.Run("walking costs no allocation", func(t *testing.T) {
		m, _ := ParseHeaderMap(wire(pairs...))
		if n := testing.AllocsPerRun(100, func() {
			for cur := m.Cursor(); cur.Next(); {
				_, _ = cur.Key(), cur.Value()
			}
		}); n != 0 {
			t.Fatalf("%v allocations per walk, want 0", n)
		}
	})
	t.Run("an empty input is an empty map", func(t *testing.T) {
		for _, in := range [][]byte{nil, wire()} {
			m, err := ParseHeaderMap(in)
			if err != nil || m.Len() != 0 || len(walk(m)) != 0 {
				t.Fatalf("ParseHeaderMap(%v) = %d pairs, %v", in, m.Len(), err)
			}
		}
	})
	t.Run("a malformed map is refused as DecodeHeaderMap refuses it", func(t *testing.T) {
		good := wire([2]string{"k", "v"})
		if _, err := ParseHeaderMap(good[:len(good)-1]); !errors.Is(err, errHeaderMap) {
			t.Fatalf("err = %v, want an errHeaderMap error", err)
		}
	})
}
