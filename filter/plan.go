package filter

import (
	"time"

	"github.com/scopegate/scopegate/jwt"
)

// Config is the validated, immutable plan built from the plugin configuration
// by ParseConfig. Every field is already defaulted; nothing on the request path
// re-reads JSON.
type Config struct {
	Providers           []*Provider
	Rules               []*Rule
	Default             *Requirement
	BypassCORSPreflight bool
	Realm               string
	MaxTokenBytes       int
	HostCrypto          HostCrypto // who checks RS*/ES* signatures (hostcrypto.go)

	// Warnings are problems that do not reject the configuration (skipped
	// local JWKS keys); on_configure logs each at warn level.
	Warnings []string

	// Derived once at parse time for the request path.
	headerSources []HeaderSource // union of every provider's from_headers
	paramSources  []string       // union of every provider's from_params
	cookieSources []string       // union of every provider's from_cookies
	stripHeaders  []string       // claim_to_headers and forward_payload_header names, always removed
	// slashSensitive: some rule tells "/x" from "/x/" (an exact path, or a
	// prefix ending in "/"), so path readings include the trailing-slash twin.
	slashSensitive bool
	// upperInRules: some rule value has an upper-case letter, so every
	// path gets the case-insensitive reading (path.go, caseTwinDiffers).
	upperInRules bool
	// readNames are the header names readRequest looks at; nameLengths
	// has bit n set when one has n bytes (readsNameOfLength), longNames
	// when one has 256 or more.
	readNames   []readName
	nameLengths [4]uint64
	longNames   bool
	looks       [256]uint8 // lookPseudo and lookRead by length modulo 256
}

// Provider is one trusted token issuer and where its keys come from.
// Exactly one of LocalJWKS, RemoteJWKS and Discovery is set.
type Provider struct {
	Index     int // position in Config.Providers; indexes per-provider state
	Name      string
	Issuer    string   // "" accepts any iss
	Audiences []string // empty: aud not checked

	LocalJWKS  *jwt.KeySet
	RemoteJWKS *RemoteJWKS
	Discovery  *Discovery

	FromHeaders    []HeaderSource
	FromParams     []string
	FromCookies    []string
	Algorithms     jwt.AlgSet
	ClockSkew      time.Duration
	MaxLifetime    time.Duration // 0: off
	RequireExp     bool
	ScopeClaims    []string
	Forward        bool
	PayloadHeader  string // forward_payload_header; "" is off
	ClaimToHeaders []ClaimHeader
	// DPoP and CertificateBound are the sender-constraint policies (dpop.go,
	// certbound.go); a bound token is checked whatever they say.
	DPoP             DPoPPolicy
	CertificateBound CertificatePolicy

	// Validator checks iss, aud and the time claims; built from the fields above.
	Validator jwt.Validator
}

// Fetch holds the settings shared by both remote key sources.
type Fetch struct {
	Cluster            string
	URI                string
	Authority          string // host[:port] of URI, sent as :authority
	Path               string // path and query of URI, sent as :path
	Timeout            time.Duration
	CacheDuration      time.Duration
	RefetchMinInterval time.Duration
}

// RemoteJWKS fetches the key set from a fixed URI.
type RemoteJWKS struct {
	Fetch
}

// Discovery fetches the OpenID configuration at URI, checks its issuer and
// then fetches the key set from its jwks_uri through JWKSCluster.
type Discovery struct {
	Fetch
	JWKSCluster string // defaults to Cluster
}

// HeaderSource is one place a token may be carried in a request header.
type HeaderSource struct {
	Name        string // lower-case
	ValuePrefix string // e.g. "Bearer "; matched case-insensitively, then one or more spaces
}

// ClaimHeader copies a claim into a request header for the upstream.
type ClaimHeader struct {
	Claim  string // claim path
	Header string // lower-case
}

// Rule picks the requirement for requests whose path (query excluded) and
// method fit Match. Rules are tried in order.
type Rule struct {
	Match       Match
	Requirement *Requirement
}

// Match selects requests by exact path or by path prefix, and optionally by
// method. Exactly one of Prefix, Path and SeparatedPrefix is set.
type Match struct {
	Prefix          string   // plain string prefix, as Envoy's prefix: "/api" also matches "/apix"
	Path            string   // the whole path; "*" is the asterisk-form of OPTIONS
	SeparatedPrefix string   // path_separated_prefix: "/api" matches "/api" and "/api/...", never "/apix"
	Methods         []string // upper-case, HEAD added where GET is named; empty matches every method
}

// Requirement is a node of the requirement tree (DESIGN §3). The zero value
// ({}), means "a valid token from any provider".
type Requirement struct {
	Provider     string // "" allows any provider
	Scopes       []string
	Claims       []ClaimRequirement
	Any          []*Requirement
	All          []*Requirement
	Allow        bool // no token needed
	AllowMissing bool // a missing token passes; a present one must be valid

	// Derived at parse time (see requirements.go).
	providers    providerMask // providers a token may come from to satisfy this node
	alwaysAllows bool         // passes without looking at the request
	allowsMissed bool         // passes when no token is present
	// missing is the 401 for a request without a token, rendered once
	// (set on the requirements rules and the default name, deriveAnswers).
	missing *denial
}

// ClaimRequirement demands that the claim at Path contains one of Values.
type ClaimRequirement struct {
	Path   string
	Values []string
}
