package main

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

// BenchmarkRequest measures one request through the plugin in the real
// host (sdktest: request and response phases, the upstream stub), per
// algorithm, with claims set as properties and one claim header.
func BenchmarkRequest(b *testing.B) {
	testKeys(b)
	h := sdktest.New(b, pluginWasm(b), sdktest.Options{Config: staticConfig(b)})
	for _, bc := range []struct {
		name string
		tok  string
	}{
		{"HS256", sign(b, hdr("HS256", "hs"), claims(nil), hmacSecret)},
		{"RS256", sign(b, hdr("RS256", "rs"), claims(nil), rsaKey)},
		{"ES256", sign(b, hdr("ES256", "ec"), claims(nil), ecKey)},
		{"invalid", "x.y.z"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := &sdktest.Request{Path: "/pets", Headers: bearer(bc.tok)}
			for b.Loop() {
				if r := h.Do(req); r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		})
	}
}

// BenchmarkNoPlugin is the harness's own cost for the same request, to
// subtract from BenchmarkRequest.
func BenchmarkNoPlugin(b *testing.B) {
	h := sdktest.New(b, sdktest.Build(b, "../../sdk/go/template"), sdktest.Options{Config: `{"header":"x-a","value":"b"}`})
	req := &sdktest.Request{Path: "/pets", Headers: bearer("x.y.z")}
	for b.Loop() {
		if r := h.Do(req); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
