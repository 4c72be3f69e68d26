package filter

import "strings"

// didYouMean returns ` (did you mean "x"?)` naming the allowed field that an
// unknown field most likely meant, or "" when none is close. It runs only
// while a configuration is rejected, never on the request path.
//
// Spellings are compared lower-cased without '_' and '-', so camelCase
// names from Istio (jwksUri) and snake_case ones match; a name that extends
// or ends an allowed one (clock_skew_seconds, provider_name, jwks_uri) points
// at it, as does a near miss (audience, scope).
func didYouMean(name string, allowed []string) string {
	const maxName = 64 // a long name is not a typo, and bounds the work
	if len(name) == 0 || len(name) > maxName {
		return ""
	}
	n := foldName(name)
	best, bestScore := "", 0
	for _, a := range allowed {
		if s := closeness(n, foldName(a)); s > bestScore {
			best, bestScore = a, s
		}
	}
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

// closeness scores how likely the folded name n meant the folded field a:
// 0 not at all, 3 the same spelling, 2 one extends the other, 1 a few edits.
func closeness(n, a string) int {
	switch {
	case n == a:
		return 3
	case len(a) >= 3 && len(n) >= 3 && (strings.HasPrefix(n, a) || strings.HasPrefix(a, n) || strings.HasSuffix(n, a)):
		return 2
	case editDistance(n, a) <= max(1, len(n)/3):
		return 1
	}
	return 0
}

// foldName lower-cases s and drops the separators '_' and '-'.
func foldName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_' || c == '-':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
