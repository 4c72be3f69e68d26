# scopegate — build, test and run. See README.md.
GO        ?= go
WASM      := dist/scopegate.wasm
WASM_ENV  := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
# Packages that are compiled into the wasm module; linted for wasip1 too.
WASM_PKGS := ./cmd/scopegate ./filter/... ./jwt/...
FUZZTIME  ?= 5s
TESTFLAGS ?= -count=1 -timeout=20m

.PHONY: all wasm test unit fuzz-short lint bench run clean fuzz soak oci

all: wasm

# One build recipe for the module and the tests (internal/wasmbuild): wasip1
# c-shared, with the runtime overlay that makes an ENOSYS poll_oneoff harmless
# (see docs/proxies.md), generated from the installed Go's sources.
wasm:
	@echo "building $(WASM) (the first build on a cold Go build cache takes ~2 minutes; later ones take seconds)..."
	$(GO) run ./internal/tools/buildwasm -o $(WASM) ./cmd/scopegate
	@ls -l $(WASM)

# `make test` is the whole suite: lint, the wasm build, every Go test (unit,
# wasm-in-host e2e, the oidc-provider e2e, which installs its npm packages
# itself), and each fuzz target for a short fixed budget.
test: lint wasm unit fuzz-short

unit:
	$(GO) test $(TESTFLAGS) ./...

fuzz-short:
	./scripts/fuzz.sh $(FUZZTIME)

fuzz:
	./scripts/fuzz.sh 2m

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(WASM_ENV) $(GO) vet $(WASM_PKGS)
	$(GO) tool staticcheck ./...
	@# staticcheck must run natively while analysing for wasip1: `go tool` would build it for wasm.
	$(GO) build -o build/staticcheck honnef.co/go/tools/cmd/staticcheck
	$(WASM_ENV) build/staticcheck $(WASM_PKGS)

bench: wasm
	./scripts/bench.sh

soak: wasm
	SCOPEGATE_SOAK=long $(GO) test -count=1 -timeout=60m -run 'TestSoak' -v ./e2e/

# A built binary rather than `go run`, so Ctrl-C ends the demo with status 0.
run: wasm
	@echo "building the demo launcher dist/demo..."
	$(GO) build -o dist/demo ./cmd/demo
	./dist/demo

oci: wasm
	$(GO) run ./cmd/scopegate-oci -wasm $(WASM) -out dist/oci $(if $(REF),-push $(REF))

clean:
	rm -rf dist build
