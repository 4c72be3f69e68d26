package jwt

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONStringsDecodeLikeEncodingJSON(t *testing.T) {
	for _, lit := range []string{
		`"plain"`, `""`, `"\b\f\n\r\t\/\"\\"`, `"caf\u00e9"`, `"\u00E9t\u00C9"`, `"\ud83d\ude00 smile"`,
		`"mixed é and \u20ac"`, `"tail\\"`, `"\u0000nul"`,
	} {
		js, ok := stringValue([]byte(lit))
		if !ok {
			t.Errorf("%s rejected", lit)
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(lit), &want); err != nil {
			t.Fatal(err)
		}
		if got := js.str(); got != want {
			t.Errorf("%s decoded to %q, want %q", lit, got, want)
		}
		if !js.equalString(want) {
			t.Errorf("%s does not equal its decoding", lit)
		}
	}
}

func TestCheckObjectFaults(t *testing.T) {
	cases := []struct {
		name string
		text string
		want jsonFault
	}{
		{"an empty object is fine", `{}`, jsonOK},
		{"whitespace around an object is fine", " \t\r\n{ \"a\" : [ 1 , -2.5e-3 , true , false , null ] } \n", jsonOK},
		{"empty input is a syntax error", ``, jsonSyntax},
		{"only whitespace is a syntax error", `  `, jsonSyntax},
		{"an array is not an object", `[1]`, jsonNotObject},
		{"a string is not an object", `"a"`, jsonNotObject},
		{"a truncated object is a syntax error", `{"a":1`, jsonSyntax},
		{"a missing colon is a syntax error", `{"a" 1}`, jsonSyntax},
		{"an unquoted name is a syntax error", `{a:1}`, jsonSyntax},
		{"a single-quoted string is a syntax error", `{"a":'b'}`, jsonSyntax},
		{"a misspelled literal is a syntax error", `{"a":tru}`, jsonSyntax},
		{"a bare minus is a syntax error", `{"a":-}`, jsonSyntax},
		{"a fraction without digits is a syntax error", `{"a":1.}`, jsonSyntax},
		{"an exponent without digits is a syntax error", `{"a":1e+}`, jsonSyntax},
		{"a plus sign is a syntax error", `{"a":+1}`, jsonSyntax},
		{"a trailing comma in an array is a syntax error", `{"a":[1,]}`, jsonSyntax},
		{"an unknown escape is a syntax error", `{"a":"\x"}`, jsonSyntax},
		{"a short unicode escape is a syntax error", `{"a":"\u12"}`, jsonSyntax},
		{"a high surrogate without its pair is a syntax error", `{"a":"\ud83dx"}`, jsonSyntax},
		{"a high surrogate before a non-surrogate is a syntax error", `{"a":"\ud83d\u0041"}`, jsonSyntax},
		{"an unterminated string is a syntax error", `{"a":"b}`, jsonSyntax},
		{"two values are a syntax error", `{} {}`, jsonSyntax},
		{"a duplicate name is a duplicate", `{"a":1,"b":{"a":2},"a":3}`, jsonDuplicate},
		{"32 levels are fine", strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32), jsonOK},
		{"33 levels are too deep", strings.Repeat(`{"a":`, 33) + "1" + strings.Repeat("}", 33), jsonTooDeep},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := checkObject([]byte(c.text)); got != c.want {
				t.Fatalf("checkObject(%q) = %v, want %v", c.text, got, c.want)
			}
		})
	}
}
