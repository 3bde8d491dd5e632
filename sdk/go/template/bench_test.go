package main

import (
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

// BenchmarkTemplateRequest is one whole request through the template
// plugin in the real host: context creation, request and response
// headers, on_done/on_log/on_delete — the per-plugin cost of a pipeline
// stage written with the SDK.
func BenchmarkTemplateRequest(b *testing.B) {
	h := sdktest.New(b, sdktest.Build(b, "."), sdktest.Options{Config: `{"header":"x-a","value":"1"}`, LogLevel: 5})
	req := &sdktest.Request{Headers: [][2]string{{"user-agent", "bench"}, {"accept", "*/*"}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := h.Do(req); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}
