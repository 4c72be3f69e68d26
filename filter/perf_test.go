package filter

import (
	"strconv"
	"testing"
)

func TestAppendQuoteLogMatchesStrconvQuote(t *testing.T) {
	for _, s := range []string{
		"", "alice", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "https://idp.example.com/realms/demo",
		`with "quotes"`, `back\slash`, "tab\there", "new\nline", "del\x7f", "naïve", "日本",
		"bad utf8 \xff", "~!@#$%^&*()_+`-={}[]|:;'<>,.?/", " ",
	} {
		if got, want := string(appendQuoteLog([]byte("x="), s)), "x="+strconv.Quote(s); got != want {
			t.Errorf("appendQuoteLog(%q) = %s, want %s", s, got, want)
		}
	}
}
