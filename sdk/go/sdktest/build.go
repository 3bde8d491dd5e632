package sdktest

import (
	"testing"

	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

// Build compiles the plugin in pkgDir (a package main using the SDK) with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
//
// and returns the module. The result is cached in
// os.TempDir()/wasmgate-sdktest, keyed by the Go version and the contents
// of every non-standard package the plugin depends on (the SDK included),
// so repeated test runs do not rebuild. A build failure fails the test
// with the compiler's output.
func Build(t testing.TB, pkgDir string) []byte {
	t.Helper()
	b, err := wasmbuild.Build(pkgDir)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	return b
}
