package filter

import "github.com/scopegate/scopegate/filter/abi"

// metrics holds the plugin's counters (DESIGN §4). Envoy shows them as
// wasmcustom.<name>; they are defined once per plugin at OnPluginStart.
type metrics struct {
	allowed, deniedMissing, deniedInvalid, deniedScope, deniedUnavailable abi.MetricCounter
	jwksFetchOK, jwksFetchFailed, cacheHit, cacheMiss                     abi.MetricCounter
	signatureHost, signatureGuest, signatureHostError                     abi.MetricCounter
	// Subsets of deniedInvalid: DPoP answers (invalid_dpop_proof and
	// use_dpop_nonce) and certificate-bound tokens refused.
	deniedInvalidDPoP, deniedInvalidCertificate abi.MetricCounter
}

// Metric names, as defined in the host (Envoy prefixes them with "wasmcustom.").
const (
	metricAllowed           = "scopegate.allowed"
	metricDeniedMissing     = "scopegate.denied.missing"
	metricDeniedInvalid     = "scopegate.denied.invalid"
	metricDeniedScope       = "scopegate.denied.scope"
	metricDeniedUnavailable = "scopegate.denied.unavailable"
	metricJWKSFetchOK       = "scopegate.jwks.fetch_ok"
	metricJWKSFetchFailed   = "scopegate.jwks.fetch_failed"
	metricCacheHit          = "scopegate.cache.hit"
	metricCacheMiss         = "scopegate.cache.miss"
	// Who checked each token signature (docs/host-crypto.md): the proxy's
	// verify_signature, or Go in the VM; and the proxy's answers that could
	// not be used (any status but Ok, or an unreadable result).
	metricSignatureHost      = "scopegate.signature.host"
	metricSignatureGuest     = "scopegate.signature.guest"
	metricSignatureHostError = "scopegate.signature.host_error"

	metricDeniedInvalidDPoP        = "scopegate.denied.invalid.dpop"
	metricDeniedInvalidCertificate = "scopegate.denied.invalid.certificate"
)

func defineMetrics() *metrics {
	return &metrics{
		allowed:            abi.DefineCounterMetric(metricAllowed),
		deniedMissing:      abi.DefineCounterMetric(metricDeniedMissing),
		deniedInvalid:      abi.DefineCounterMetric(metricDeniedInvalid),
		deniedScope:        abi.DefineCounterMetric(metricDeniedScope),
		deniedUnavailable:  abi.DefineCounterMetric(metricDeniedUnavailable),
		jwksFetchOK:        abi.DefineCounterMetric(metricJWKSFetchOK),
		jwksFetchFailed:    abi.DefineCounterMetric(metricJWKSFetchFailed),
		cacheHit:           abi.DefineCounterMetric(metricCacheHit),
		cacheMiss:          abi.DefineCounterMetric(metricCacheMiss),
		signatureHost:      abi.DefineCounterMetric(metricSignatureHost),
		signatureGuest:     abi.DefineCounterMetric(metricSignatureGuest),
		signatureHostError: abi.DefineCounterMetric(metricSignatureHostError),

		deniedInvalidDPoP:        abi.DefineCounterMetric(metricDeniedInvalidDPoP),
		deniedInvalidCertificate: abi.DefineCounterMetric(metricDeniedInvalidCertificate),
	}
}
