# wasmgate — see README.md. Every target works on a fresh machine with Go
# installed; targets that need extra tools say which (.ci/run installs them).
GO      ?= go
GOFLAGS ?=
BIN     := bin/wasmgate
EMBED   := cmd/wasmgate/embedded/plugins
# Go plugins (a main.go) and plugins in other languages (a Makefile that
# builds NAME.wasm, checked in for machines without their toolchain).
PLUGIN_DIRS := $(patsubst %/main.go,%,$(wildcard plugins/*/main.go)) sdk/go/template
C_PLUGIN_DIRS := $(patsubst %/Makefile,%,$(wildcard plugins/*/Makefile))

.PHONY: all run build test test-race test-long bench instr-cost conformance guests plugins lint check clean

all: build

build: plugins
	$(GO) build -o $(BIN) ./cmd/wasmgate

## run: the gateway on its embedded default (examples/petstore)
run: build
	./$(BIN) serve --tls-listen :8443 --http3

## test: unit, conformance and SDK tests (the CI gate, well under 15 minutes)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	@# the hot-swap load test again at full size (20 s, >= 2,000 req/s), without the race detector's slowdown
	WASMGATE_HOTSWAP_FULL=1 $(GO) test -count=1 -run '^TestHotSwapUnderLoad$$' -v ./e2e/

## test-long: also the long-running suites
test-long:
	$(GO) test -count=1 -timeout 60m -tags long ./...

## bench: host micro-benchmarks (ns/op, allocs/op), then wasmgate vs httputil.ReverseProxy on one upstream
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./host/wasm/ ./host/gateway/ ./host/deploy/ ./host/observe/ ./host/policy/... ./sdk/go/template/
	$(GO) run ./internal/cmd/proxybench -wasmgate $(BIN) -rounds 5

## instr-cost: instructions and cache misses per request through the gateway (e2e benchmarks under cachegrind; deterministic where timings are not); needs valgrind. BENCH=REGEX picks the benchmarks, TOP=N lists each one's N costliest functions
instr-cost:
	$(GO) run ./internal/cmd/instrcost $(if $(BENCH),-bench '$(BENCH)') $(if $(TOP),-top $(TOP))

## conformance: the Proxy-Wasm ABI conformance suite
conformance:
	$(GO) test -count=1 -v ./conformance/

## guests: rebuild the checked-in conformance guest modules (needs wabt, clang, lld, wasi-libc)
guests:
	$(MAKE) -C conformance guests

## plugins: build the first-party plugins (plugins/*, the SDK template) to $(EMBED), embedded by `make build` (C plugins with clang when installed)
plugins:
	@mkdir -p $(EMBED)
	@for d in $(PLUGIN_DIRS); do \
		n=$$(basename $$d); echo "plugin $$n"; \
		(cd $$d && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o $(CURDIR)/$(EMBED)/$$n.wasm .) || exit 1; \
	done
	@for d in $(C_PLUGIN_DIRS); do \
		n=$$(basename $$d); \
		if command -v clang >/dev/null; then echo "plugin $$n (C)"; $(MAKE) -s -C $$d $$n.wasm || exit 1; \
		else echo "plugin $$n (C, checked-in build: no clang)"; fi; \
		cp $$d/$$n.wasm $(EMBED)/$$n.wasm || exit 1; \
	done

## lint: formatting and vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## check: lint, and fail when go.mod or generated guest modules drift
check: lint
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
	$(MAKE) guests && git diff --exit-code -- conformance/

clean:
	rm -rf bin
