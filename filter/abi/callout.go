package abi

import (
	"errors"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// checkCallout applies Envoy's rules for proxy_http_call before the call is
// made, in both builds, so a filter's native unit tests catch what Envoy
// would refuse: the headers need :method, :path and :authority, and the
// timeout must be > 0 (0 would mean no timeout at all). Errors wrap
// types.ErrorStatusBadArgument, the status Envoy answers.
func checkCallout(cluster string, headers [][2]string, timeoutMillisecond uint32) error {
	if cluster == "" {
		return badArgument("abi: http call needs a cluster name")
	}
	if timeoutMillisecond == 0 {
		return badArgument("abi: http call to " + cluster + " needs a timeout > 0")
	}
	var method, path, authority bool
	for _, kv := range headers {
		switch kv[0] {
		case ":method":
			method = kv[1] != ""
		case ":path":
			path = kv[1] != ""
		case ":authority":
			authority = kv[1] != ""
		}
	}
	if method && path && authority {
		return nil
	}
	var missing []string
	if !method {
		missing = append(missing, ":method")
	}
	if !path {
		missing = append(missing, ":path")
	}
	if !authority {
		missing = append(missing, ":authority")
	}
	return badArgument("abi: http call to " + cluster + " lacks " + strings.Join(missing, ", "))
}

func badArgument(msg string) error { return errors.Join(types.ErrorStatusBadArgument, errors.New(msg)) }
