// Package version holds scopegate's release version: the one place it is
// written. Every command prints it with -version, the filter logs it when it
// is configured, and CHANGELOG.md and the shipped Istio manifests must agree
// with it (envoy/release_test.go); docs/release.md says how a release bumps it.
package version

// Version is the release this tree builds, without a leading "v" (the git tag
// is "v" + Version).
const Version = "0.1.0"
