package filter

// Fetching a remote key set through proxy_http_call: the JWKS directly, or
// the OpenID discovery document first and then the JWKS its jwks_uri names.
// One attempt is one fetch for the metrics, whatever its number of callouts.

import (
	"bytes"
	"strconv"
	"time"

	"github.com/scopegate/scopegate/filter/abi"
	"github.com/scopegate/scopegate/jwt"
)

// startFetch begins one attempt; the caller holds the shared-data lease
// (takeLease numbered the attempt).
func (s *keyStore) startFetch(src *source, now time.Time) {
	src.attempt++
	src.inFlight = true
	src.attemptStart = now
	src.inFlightUntil = now.Add(src.bound())
	a := src.attempt
	f := &src.fetch
	if src.discovery {
		s.dispatch(src, a, f.Cluster, f.Authority, f.Path, func(body []byte) { s.onDiscovery(src, a, body) })
		return
	}
	s.dispatch(src, a, f.Cluster, f.Authority, f.Path, func(body []byte) { s.onJWKS(src, a, body, "") })
}

// dispatch sends one GET callout; done receives the 200 answer's body. Any
// other outcome is a failed attempt.
func (s *keyStore) dispatch(src *source, attempt uint64, cluster, authority, path string, done func(body []byte)) {
	headers := [][2]string{
		{":method", "GET"}, {":path", path}, {":authority", authority}, {"accept", "application/json"},
	}
	timeoutMs := uint32(src.fetch.Timeout / time.Millisecond)
	url := "cluster " + strconv.Quote(cluster) + " " + authority + path
	_, err := abi.DispatchHttpCall(cluster, headers, nil, nil, timeoutMs, func(_, bodySize, _ int) {
		defer s.flushWakes()
		defer func() {
			if r := recover(); r != nil && src.inFlight && src.attempt == attempt {
				s.fetchFailed(src, s.now(), "internal error handling the answer from "+url)
			}
		}()
		if !src.inFlight || src.attempt != attempt {
			return // an abandoned attempt answering late
		}
		body, why := readCalloutBody(bodySize)
		if why != "" {
			s.fetchFailed(src, s.now(), why+" from "+url)
			return
		}
		done(body)
	})
	if err != nil {
		s.fetchFailed(src, s.now(), "dispatching the callout to "+url+" failed: "+err.Error())
	}
}

// readCalloutBody reads the answer of the current callout: a 200 status and
// a non-empty body of at most maxJWKSBodyBytes. A failed call (connection
// failure, timeout) arrives with no headers at all.
func readCalloutBody(bodySize int) ([]byte, string) {
	headers, err := abi.GetHttpCallResponseHeaders()
	status := ""
	if err == nil {
		status = headerValue(pairHeaders(headers), ":status")
	}
	switch {
	case status == "":
		return nil, "no answer (connection failure or timeout)"
	case status != "200":
		return nil, "HTTP status " + status
	case bodySize <= 0:
		return nil, "empty body"
	case bodySize > maxJWKSBodyBytes:
		return nil, "body of " + strconv.Itoa(bodySize) + " bytes, over the limit of " + strconv.Itoa(maxJWKSBodyBytes)
	}
	body, err := abi.GetHttpCallResponseBody(0, bodySize)
	if err != nil {
		return nil, "reading the body failed: " + err.Error()
	}
	if len(body) != bodySize {
		return nil, "truncated body"
	}
	return bytes.Clone(body), ""
}

// onDiscovery checks the discovery document and fetches the JWKS it names.
func (s *keyStore) onDiscovery(src *source, attempt uint64, body []byte) {
	url := src.fetch.URI
	issuer, jwksURI, err := parseDiscovery(body)
	if err != nil {
		s.fetchFailed(src, s.now(), "discovery document at "+url+": "+err.Error())
		return
	}
	if issuer != src.issuer {
		msg := "discovery document at " + url + " names issuer " + strconv.Quote(issuer) +
			" but the provider's issuer is " + strconv.Quote(src.issuer)
		abi.LogError("provider " + src.names + ": " + msg)
		s.fetchFailed(src, s.now(), msg)
		return
	}
	authority, path, err := splitURI(jwksURI)
	if err != nil {
		s.fetchFailed(src, s.now(), "discovery document at "+url+": jwks_uri "+err.Error())
		return
	}
	s.dispatch(src, attempt, src.jwksCluster, authority, path, func(body []byte) { s.onJWKS(src, attempt, body, jwksURI) })
}

// onJWKS parses a fetched key set. A document that is not a usable JWKS is
// a failed fetch and never replaces the current set.
func (s *keyStore) onJWKS(src *source, attempt uint64, body []byte, jwksURI string) {
	url := jwksURI
	if url == "" {
		url = src.fetch.URI
	}
	set, skipped, err := jwt.ParseJWKS(body, jwt.JWKSOptions{MaxBytes: maxJWKSBodyBytes})
	logSkipped(src, url, skipped)
	if err != nil {
		s.fetchFailed(src, s.now(), "the answer from "+url+" is not a usable JWKS: "+err.Error())
		return
	}
	s.fetchSucceeded(src, s.now(), body, set, jwksURI)
}

func logSkipped(src *source, url string, skipped []jwt.SkippedKey) {
	for _, k := range skipped {
		abi.LogWarn("provider " + src.names + ": JWKS from " + url + ": key " + strconv.Itoa(k.Index) +
			" (kid " + quoteShort(k.Kid) + ") skipped: " + k.Reason)
	}
}

// fetchSucceeded installs a fetched set (keeping the current one when the
// bytes did not change, so verified-token cache entries survive) and
// publishes it to the other VMs.
func (s *keyStore) fetchSucceeded(src *source, now time.Time, body []byte, set *jwt.KeySet, jwksURI string) {
	src.inFlight = false
	s.m.jwksFetchOK.Increment(1)
	if src.set == nil || !bytes.Equal(body, src.body) {
		src.set, src.body = set, body
	}
	src.failed = false
	ns := now.UnixNano()
	gen := s.nextGen(src)
	s.storeBody(src, gen, src.body)
	s.publish(src, func(r *record) {
		r.gen = max(gen, r.gen+1)
		r.fetchedAt = ns
		r.failures, r.retryAt = 0, 0
		r.jwksURI = jwksURI
	})
	src.gen = gen
	abi.LogInfo("provider " + src.names + ": fetched " + strconv.Itoa(len(src.set.Keys)) + " signing keys from " + src.jwksURL())
	s.sync(src, now) // a fresh CAS, should settle start a fetch for a kid this one lacks
	s.settle(src, now)
}

// fetchFailed records a failed attempt: the current set (if any) stays, the
// next routine attempt waits for the backoff delay, and streams waiting for
// a first set are released (they get 503).
func (s *keyStore) fetchFailed(src *source, now time.Time, why string) {
	src.inFlight = false
	s.m.jwksFetchFailed.Increment(1)
	ns := now.UnixNano()
	var failures uint32
	var retry time.Duration
	s.publish(src, func(r *record) {
		if r.failures < 1<<16 {
			r.failures++
		}
		failures = r.failures
		retry = backoff(failures, src.fetch.CacheDuration)
		r.failedAt = ns
		r.retryAt = ns + retry.Nanoseconds()
	})
	src.seenFailedAt = src.rec.failedAt
	msg := "provider " + src.names + ": fetching signing keys failed: " + why + "; "
	if src.set != nil {
		msg += "keeping the last good key set"
	} else {
		src.failed = true
		msg += "no key set yet, requests needing it are answered 503"
	}
	abi.LogWarn(msg + "; retry in " + retry.String() + " (failure " + strconv.Itoa(int(failures)) + ")")
	s.sync(src, now)
	s.settle(src, now)
}

// backoff is the delay before retrying after the n-th consecutive failure:
// 1 s doubling, capped at min(cache duration, 5 min).
func backoff(n uint32, cacheDuration time.Duration) time.Duration {
	ceiling := min(cacheDuration, backoffCeiling)
	d := backoffInitial
	for i := uint32(1); i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// jwksURL is where the current set comes from, for logs.
func (src *source) jwksURL() string {
	if src.rec.jwksURI != "" {
		return src.rec.jwksURI
	}
	return src.fetch.URI
}
