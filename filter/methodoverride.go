package filter

import "strings"

// Method overrides (docs/paths.md, one reading). Frameworks serve a POST
// with the method a header or the query names: X-HTTP-Method-Override
// (Rack::MethodOverride, on by default in Rails; Express's method-override;
// ASP.NET Core), X-HTTP-Method (OData, ASP.NET Web API), X-Method-Override
// (Google APIs), the _method query parameter (method-override('_method'),
// Laravel). A rule for DELETE would be escaped by a POST the upstream
// serves as DELETE, so each method a request names is a reading of its
// method, and readings that select different rules are 400 like a path's.

// methodOverrideHeaders are the override headers, in their canonical
// spelling; every spelling a server folds into the same name counts.
var methodOverrideHeaders = [...]string{"x-http-method-override", "x-http-method", "x-method-override"}

// methodOverrideParam is the query parameter frameworks read a method from.
const methodOverrideParam = "_method"

// methodOverrideDiffers reports whether a method the request names in an
// override header or the _method parameter (each of a comma-separated
// list) selects another rule than req, the rule of target and its own
// method. The headers are looked at only when the request's one pass over
// them saw an override header (request.overrides); the query only when the
// target has one.
func (c *Config) methodOverrideDiffers(r *request, target string, req *Requirement) bool {
	// No closure is made before an override is seen: one escapes to the
	// heap where it is declared, and this runs on every request.
	if r.overrides {
		found := false
		for _, name := range methodOverrideHeaders {
			r.headers.eachFolded(name, func(v string) { found = found || c.methodListDiffers(v, target, req) })
		}
		if found {
			return true
		}
	}
	q := strings.IndexByte(target, '?')
	if q < 0 {
		return false
	}
	for query := target[q+1:]; query != ""; {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		k, v, _ := strings.Cut(pair, "=")
		// Decoding only shortens a key: one shorter than "_method" is
		// not it, and is not decoded (on every request with a query).
		if len(k) >= len(methodOverrideParam) && phpParamName(unescapeQuery(k)) == methodOverrideParam &&
			c.methodListDiffers(unescapeQuery(v), target, req) {
			return true
		}
	}
	return false
}

// phpParamName is a query key as PHP names it (Symfony and Laravel read
// _method from there): leading spaces dropped, then ' ', '.' and '[' each
// turned into '_', so "?.method=", "?+method=" and "?%20method=" all reach
// the application as _method. The other frameworks read the key as is,
// which this leaves alone when it is already "_method".
func phpParamName(k string) string {
	k = strings.TrimLeft(k, " ")
	if !strings.ContainsAny(k, " .[") {
		return k
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '[' {
			return '_'
		}
		return r
	}, k)
}

// methodListDiffers reports whether a method of list (comma-separated, as
// an override names them) selects another rule for target than req.
func (c *Config) methodListDiffers(list, target string, req *Requirement) bool {
	for _, m := range strings.Split(list, ",") {
		if m = trimBlanks(m); m == "" {
			continue // frameworks ignore an empty override
		}
		// A method is an ASCII token. Anything else is read differently
		// by different servers (Node trims U+00A0 from "DELETE\xa0", Go
		// and JavaScript fold "K" and "k" apart), so it is ambiguous.
		for i := 0; i < len(m); i++ {
			if !isTokenChar(m[i]) {
				return true
			}
		}
		if r, v := c.requirementFor(target, strings.ToUpper(m)); v != pathOK || r != req {
			return true
		}
	}
	return false
}
