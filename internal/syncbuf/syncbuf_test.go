package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	t.Run("the zero value collects writes in order", func(t *testing.T) {
		var b Buffer
		for _, s := range []string{"one ", "two ", "three"} {
			n, err := b.Write([]byte(s))
			if err != nil || n != len(s) {
				t.Fatalf("Write(%q) = %d, %v", s, n, err)
			}
		}
		if got := b.String(); got != "one two three" {
			t.Fatalf("String() = %q, want %q", got, "one two three")
		}
	})
	t.Run("concurrent writers keep every line whole while a reader polls", func(t *testing.T) {
		var b Buffer
		const writers, lines = 4, 200
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				line := strings.Repeat(string(rune('a'+w)), 16) + "\n"
				for range lines {
					b.Write([]byte(line))
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for polling := true; polling; {
			select {
			case <-done:
				polling = false
			default:
				_ = b.String()
			}
		}
		got := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
		if len(got) != writers*lines {
			t.Fatalf("got %d lines, want %d", len(got), writers*lines)
		}
		for i, l := range got {
			if len(l) != 16 || strings.Count(l, l[:1]) != 16 {
				t.Fatalf("line %d is torn: %q", i, l)
			}
		}
	})
}
