# wasmgate — see README.md. Every target works on a fresh machine with Go
# installed; targets that need extra tools say which (.ci/run installs them).
GO      ?= go
GOFLAGS ?=
BIN     := bin/wasmgate

.PHONY: all run build test test-race test-long bench conformance guests plugins lint check clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/wasmgate

## run: the gateway on its embedded default (examples/petstore)
run: build
	./$(BIN) serve

## test: unit, conformance and SDK tests (the CI gate, well under 15 minutes)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## test-long: also the long-running suites
test-long:
	$(GO) test -count=1 -timeout 60m -tags long ./...

## bench: host micro-benchmarks (ns/op, allocs/op)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./host/wasm/

## conformance: the Proxy-Wasm ABI conformance suite
conformance:
	$(GO) test -count=1 -v ./conformance/

## guests: rebuild the checked-in conformance guest modules (needs wabt, clang, lld, wasi-libc)
guests:
	$(MAKE) -C conformance guests

## plugins: build the SDK template plugin to bin/plugins/
plugins:
	mkdir -p bin/plugins
	cd sdk/go/template && GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o ../../../bin/plugins/template.wasm .

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
