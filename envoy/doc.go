// Package envoy holds the Envoy and Istio configurations users copy to deploy
// scopegate (envoy/*.yaml, envoy/istio/*.yaml). It has no code: its tests load
// every file into Envoy's own protobuf types (go-control-plane) and Istio's
// (istio.io/api), run their validation rules, and parse each embedded plugin
// configuration with scopegate's own parser, so the documented configurations
// are right by construction.
package envoy
