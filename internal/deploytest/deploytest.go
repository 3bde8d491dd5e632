// Package deploytest has what tests of the deployment store and its
// callers (host/deploy, host/admin, the CLI) share: a real plugin built
// from source, variants of it under other digests, an engine and gateway,
// and a small API document.
package deploytest

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/gateway"
	"github.com/wasmgate/wasmgate/host/wasm"
	"github.com/wasmgate/wasmgate/internal/wasmbuild"
)

var (
	templateOnce sync.Once
	templateBin  []byte
	templateErr  error
)

// TemplateWasm is the SDK's template plugin (sdk/go/template), built from
// source once per test binary.
func TemplateWasm(tb testing.TB) []byte {
	tb.Helper()
	templateOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		templateBin, templateErr = wasmbuild.Build(filepath.Join(filepath.Dir(file), "..", "..", "sdk", "go", "template"))
	})
	if templateErr != nil {
		tb.Fatal(templateErr)
	}
	return templateBin
}

// Variant returns bin with a custom section appended: the same plugin
// under another digest.
func Variant(bin []byte, tag string) []byte {
	payload := append([]byte{1}, 'v')
	payload = append(payload, tag...)
	out := append([]byte(nil), bin...)
	out = append(out, 0x00, byte(len(payload)))
	return append(out, payload...)
}

// NewEngineGateway returns an engine on the shared compile cache and a
// gateway that names the serving deployment (X-Wasmgate-Deployment),
// with small pools; both close at cleanup.
func NewEngineGateway(tb testing.TB) (*wasm.Engine, *gateway.Gateway) {
	tb.Helper()
	eng, err := wasm.NewEngine(context.Background(), wasm.EngineConfig{CacheDir: filepath.Join(wasmbuild.CacheDir(), "compiled")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { eng.Close(context.Background()) })
	return eng, gateway.New(gateway.Options{Engine: eng, DeploymentHeader: true, PoolMin: 1, PoolMax: 2})
}

// Doc is an API whose one operation, GET /hello, runs plugin (the
// template plugin, adding x-demo: value) and proxies to upstream with
// ?v=${stageVariables.v}; it declares stage prod with v=doc-prod.
func Doc(upstream, plugin, value string) []byte {
	return []byte(fmt.Sprintf(`openapi: 3.0.3
info: {title: demo, version: "1"}
x-wasmgate-stages:
  - name: prod
    variables: {v: doc-prod}
paths:
  /hello:
    get:
      x-wasmgate-pipeline:
        - {plugin: %s, config: {header: x-demo, value: %q}}
      x-wasmgate-integration: {type: http_proxy, uri: "%s/hello?v=${stageVariables.v}"}
      responses: {"200": {description: ok}}
`, plugin, value, upstream))
}
