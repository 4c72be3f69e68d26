// Package devidp is a small OpenID provider for development and demos: OpenID
// discovery, a JWKS, and a token endpoint with the password and
// client-credentials grants that issues signed JWT access tokens (RFC 9068
// shaped), DPoP-bound when the token request carries a DPoP proof and
// certificate-bound when it comes over TLS with a client certificate
// (binding.go). Keys rotate on request. It is deliberately simple — in-memory users
// and clients, no sessions, no refresh tokens — and must never guard anything
// real.
package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scopegate/scopegate/internal/testjwt"
)

// ScopeKongAPIAccess is the scope the demo's protected route requires.
const ScopeKongAPIAccess = "kong_api_access"

// User is a resource owner who can log in with the password grant.
type User struct {
	Username string
	Password string
	// Groups are published as realm_access.roles and groups; each group may
	// grant scopes through Config.GroupScopes.
	Groups []string
}

// Client is an OAuth client. A client without Secret is public and may only
// use the password grant.
type Client struct {
	ID     string
	Secret string
	// Grants lists the grant types the client may use ("password", "client_credentials").
	Grants []string
	// Scopes are what a client_credentials token may carry.
	Scopes []string
}

// Config configures a Server. Zero fields take the defaults documented on
// each field.
type Config struct {
	// Issuer is the provider's base URL (e.g. http://127.0.0.1:9000); it is
	// the tokens' iss and the prefix of every endpoint in the discovery
	// document. Required.
	Issuer string
	// Alg is the signing algorithm (one of Algorithms). Default RS256.
	Alg string
	// Audience is the tokens' aud. Default "scopegate-demo".
	Audience string
	// TokenTTL is the access token lifetime. Default 1 hour.
	TokenTTL time.Duration
	// KeepOldKeys keeps the previous public key in the JWKS after a rotation
	// (so tokens it signed stay verifiable); by default rotation drops it.
	KeepOldKeys bool
	// Users defaults to DefaultUsers().
	Users []User
	// Clients defaults to DefaultClients().
	Clients []Client
	// GroupScopes maps a group to the scopes it grants. Default DefaultGroupScopes().
	GroupScopes map[string][]string
	// BaseScopes are granted to every user. Default "openid profile email".
	BaseScopes []string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// DefaultUsers returns the two users of the classic walkthrough: one whose
// group grants kong_api_access and one without it.
func DefaultUsers() []User {
	return []User{
		{Username: "Blog_with_scope", Password: "with-scope-pass", Groups: []string{"blog_readers", "blog_api_access"}},
		{Username: "Blog_without_scope", Password: "without-scope-pass", Groups: []string{"blog_readers"}},
	}
}

// DefaultClients returns a public client for the password grant ("demo-cli")
// and a confidential service client for the client-credentials grant
// ("demo-service", secret "demo-service-secret").
func DefaultClients() []Client {
	return []Client{
		{ID: "demo-cli", Grants: []string{"password"}},
		{ID: "demo-service", Secret: "demo-service-secret", Grants: []string{"client_credentials"},
			Scopes: []string{ScopeKongAPIAccess}},
	}
}

// DefaultGroupScopes returns the group to scope mapping: blog_api_access
// grants kong_api_access; blog_readers grants nothing extra.
func DefaultGroupScopes() map[string][]string {
	return map[string][]string{"blog_api_access": {ScopeKongAPIAccess}, "blog_readers": nil}
}

// Server is the development identity provider; it is an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu   sync.Mutex
	keys []*testjwt.Key // keys[0] signs; the rest are retired but still published
	seq  int

	proofs proofJTIs // jti values of the DPoP proofs accepted at the token endpoint
}

// New validates cfg, applies defaults and generates the first signing key.
func New(cfg Config) (*Server, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("devidp: Config.Issuer is required")
	}
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if cfg.Alg == "" {
		cfg.Alg = "RS256"
	}
	if !slices.Contains(Algorithms, cfg.Alg) {
		return nil, fmt.Errorf("devidp: unsupported signing algorithm %q (supported: %s)", cfg.Alg, strings.Join(Algorithms, ", "))
	}
	if cfg.Audience == "" {
		cfg.Audience = "scopegate-demo"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	if cfg.Users == nil {
		cfg.Users = DefaultUsers()
	}
	if cfg.Clients == nil {
		cfg.Clients = DefaultClients()
	}
	if cfg.GroupScopes == nil {
		cfg.GroupScopes = DefaultGroupScopes()
	}
	if cfg.BaseScopes == nil {
		cfg.BaseScopes = []string{"openid", "profile", "email"}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg}
	if _, err := s.Rotate(cfg.Alg, false); err != nil {
		return nil, err
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /.well-known/openid-configuration", s.discovery)
	s.mux.HandleFunc("GET /jwks", s.jwks)
	s.mux.HandleFunc("POST /token", s.token)
	s.mux.HandleFunc("POST /rotate", s.rotate)
	return s, nil
}

// ServeHTTP serves the provider's endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Issuer returns the iss of the tokens this server signs.
func (s *Server) Issuer() string { return s.cfg.Issuer }

// Audience returns the aud of the tokens this server signs.
func (s *Server) Audience() string { return s.cfg.Audience }

// Users returns the configured users (the demo prints their passwords).
func (s *Server) Users() []User { return slices.Clone(s.cfg.Users) }

// Clients returns the configured clients.
func (s *Server) Clients() []Client { return slices.Clone(s.cfg.Clients) }

// Rotation describes the key set after a rotation.
type Rotation struct {
	Kid  string   `json:"kid"`  // the new signing key's id
	Alg  string   `json:"alg"`  // the new signing key's algorithm
	Kids []string `json:"kids"` // every kid now published, signing key first
}

// Rotate generates a new signing key (alg "" keeps the current algorithm)
// with a new kid. The previous keys stay published if keepOld or
// Config.KeepOldKeys is set; otherwise they are dropped.
func (s *Server) Rotate(alg string, keepOld bool) (Rotation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if alg == "" {
		alg = s.cfg.Alg
		if len(s.keys) > 0 {
			alg = s.keys[0].Alg
		}
	}
	s.seq++
	kid := fmt.Sprintf("devidp-%s-%d-%s", strings.ToLower(alg), s.seq, randomHex(4))
	k, err := newSigningKey(alg, kid)
	if err != nil {
		return Rotation{}, err
	}
	if keepOld || s.cfg.KeepOldKeys {
		s.keys = append([]*testjwt.Key{k}, s.keys...)
	} else {
		s.keys = []*testjwt.Key{k}
	}
	rot := Rotation{Kid: kid, Alg: alg}
	for _, k := range s.keys {
		rot.Kids = append(rot.Kids, k.Kid)
	}
	return rot, nil
}

// JWKS returns the published key set document.
func (s *Server) JWKS() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return testjwt.JWKS(s.keys...)
}

// SigningKid returns the kid of the key that signs new tokens.
func (s *Server) SigningKid() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0].Kid
}

func (s *Server) discovery(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	algs := []string{}
	for _, k := range s.keys {
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	s.mu.Unlock()
	scopes := slices.Clone(s.cfg.BaseScopes)
	for _, g := range s.cfg.GroupScopes {
		scopes = append(scopes, g...)
	}
	for _, c := range s.cfg.Clients {
		scopes = append(scopes, c.Scopes...)
	}
	slices.Sort(scopes)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                     s.cfg.Issuer,
		"jwks_uri":                                   s.cfg.Issuer + "/jwks",
		"token_endpoint":                             s.cfg.Issuer + "/token",
		"grant_types_supported":                      []string{"password", "client_credentials"},
		"token_endpoint_auth_methods_supported":      []string{"client_secret_basic", "client_secret_post", "none"},
		"response_types_supported":                   []string{"token"},
		"subject_types_supported":                    []string{"public"},
		"id_token_signing_alg_values_supported":      algs,
		"scopes_supported":                           slices.Compact(scopes),
		"claims_supported":                           []string{"iss", "sub", "aud", "exp", "iat", "jti", "scope", "client_id", "preferred_username", "realm_access", "groups", "cnf"},
		"dpop_signing_alg_values_supported":          proofAlgNames(),
		"tls_client_certificate_bound_access_tokens": true,
	})
}

func (s *Server) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(s.JWKS())
}

func (s *Server) rotate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	keep, _ := strconv.ParseBool(r.PostForm.Get("keep_old"))
	rot, err := s.Rotate(r.PostForm.Get("alg"), keep)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rot)
}

// token implements the token endpoint (RFC 6749 §4.3 and §4.4).
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be an application/x-www-form-urlencoded form")
		return
	}
	form := r.PostForm
	grant := form.Get("grant_type")
	if grant != "password" && grant != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or client_credentials")
		return
	}
	client, ok := s.authenticateClient(w, r)
	if !ok {
		return
	}
	if !slices.Contains(client.Grants, grant) {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "client "+client.ID+" may not use the "+grant+" grant")
		return
	}
	var (
		sub, username string
		allowed       []string
		groups        []string
	)
	switch grant {
	case "password":
		user, ok := s.findUser(form.Get("username"), form.Get("password"))
		if !ok {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "invalid username or password")
			return
		}
		sub, username, groups = subjectOf(user.Username), user.Username, user.Groups
		allowed = slices.Clone(s.cfg.BaseScopes)
		for _, g := range user.Groups {
			allowed = append(allowed, s.cfg.GroupScopes[g]...)
		}
	case "client_credentials":
		if client.Secret == "" {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", "a public client cannot use client_credentials")
			return
		}
		sub, allowed = client.ID, client.Scopes
	}
	cnf, err := s.binding(r)
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
		return
	}
	granted := grantScopes(form.Get("scope"), allowed)
	tok, exp, err := s.issue(sub, username, client.ID, granted, groups, cnf)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	tokenType := "Bearer"
	if _, dpop := cnf["jkt"]; dpop {
		tokenType = "DPoP" // RFC 9449 §5
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   tokenType,
		"expires_in":   exp,
		"scope":        strings.Join(granted, " "),
	})
}

// authenticateClient finds the client by HTTP Basic credentials or the
// client_id/client_secret form fields and checks its secret. On failure it
// writes the error response.
func (s *Server) authenticateClient(w http.ResponseWriter, r *http.Request) (Client, bool) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	fail := func(desc string) (Client, bool) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="devidp"`)
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", desc)
		return Client{}, false
	}
	if id == "" {
		return fail("client_id is required")
	}
	for _, c := range s.cfg.Clients {
		if c.ID != id {
			continue
		}
		if c.Secret == "" && secret == "" {
			return c, true
		}
		if c.Secret != "" && subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) == 1 {
			return c, true
		}
		return fail("client authentication failed")
	}
	return fail("unknown client")
}

func (s *Server) findUser(name, password string) (User, bool) {
	for _, u := range s.cfg.Users {
		if u.Username == name {
			return u, subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		}
	}
	return User{}, false
}

// grantScopes returns the requested scopes the caller is allowed, or every
// allowed scope when none were requested. Like Keycloak, a scope the caller
// may not have is left out rather than failing the request (RFC 6749 §3.3
// lets the server issue a narrower scope and say so in the response).
func grantScopes(requested string, allowed []string) []string {
	var out []string
	if strings.TrimSpace(requested) == "" {
		out = slices.Clone(allowed)
	} else {
		for _, sc := range strings.Fields(requested) {
			if slices.Contains(allowed, sc) {
				out = append(out, sc)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// issue signs an access token and returns it with its lifetime in seconds;
// cnf, when not nil, binds it (RFC 7800).
func (s *Server) issue(sub, username, clientID string, scopes, groups []string, cnf map[string]any) (string, int64, error) {
	now := s.cfg.Now()
	ttl := int64(s.cfg.TokenTTL / time.Second)
	if ttl < 1 {
		ttl = 1
	}
	claims := map[string]any{
		"iss":       s.cfg.Issuer,
		"sub":       sub,
		"aud":       s.cfg.Audience,
		"iat":       now.Unix(),
		"exp":       now.Unix() + ttl,
		"jti":       randomHex(16),
		"client_id": clientID,
		"scope":     strings.Join(scopes, " "),
	}
	if cnf != nil {
		claims["cnf"] = cnf
	}
	if username != "" {
		claims["preferred_username"] = username
		roles := groups
		if roles == nil {
			roles = []string{}
		}
		claims["realm_access"] = map[string]any{"roles": roles}
		claims["groups"] = roles
	}
	s.mu.Lock()
	key := s.keys[0]
	s.mu.Unlock()
	// RFC 9068 names access tokens "at+jwt" in the header.
	return key.Sign(claims, map[string]any{"typ": "at+jwt"}), ttl, nil
}

// subjectOf derives a stable, opaque, UUID-shaped subject from a username,
// the way real providers use ids rather than names for sub.
func subjectOf(username string) string {
	h := sha256.Sum256([]byte("devidp-user:" + username))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// SubjectOf returns the sub claim the server puts in a user's tokens.
func SubjectOf(username string) string { return subjectOf(username) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
