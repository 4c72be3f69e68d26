// Package echo is the demo upstream: it answers every request with a JSON
// description of what it received, so a user can see which headers the proxy
// forwarded (claim headers) and which it removed (the token).
package echo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// maxBody bounds how much of a request body is read and echoed.
const maxBody = 64 << 10

// Reply is the JSON document the echo upstream answers with.
type Reply struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   url.Values          `json:"query"`
	Host    string              `json:"host"`
	Headers map[string][]string `json:"headers"`
	// BodyBytes is the request body's length (the body itself is not echoed).
	BodyBytes int `json:"body_bytes"`
}

// Handler returns the echo handler.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		rep := Reply{
			Method:    r.Method,
			Path:      r.URL.Path,
			Query:     r.URL.Query(),
			Host:      r.Host,
			Headers:   map[string][]string(r.Header),
			BodyBytes: int(n),
		}
		body, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(body, '\n'))
	})
}
