package main

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/go/sdktest"
)

// BenchmarkValidRequest is one valid PUT through the plugin in the real
// host: eight parameters and a small JSON body checked, the operation's
// validators compiled on the first request only. Compare with
// BenchmarkParamsOnly (no body hooks) and with
// sdk/go/template's BenchmarkTemplateRequest (a plugin doing almost
// nothing) to see the validation's share.
func BenchmarkValidRequest(b *testing.B) {
	h := harness(b, `{}`, "PUT", "/orders/{id}", nil)
	benchRequest(b, h, put("?limit=10&dry_run=true&tags=a,b&ids=1&ids=2&since=2026-01-02T03:04:05Z", goodBody, "cookie", "session=abcd"))
}

// BenchmarkParamsOnly validates the parameters alone, the body streaming
// past the plugin.
func BenchmarkParamsOnly(b *testing.B) {
	h := harness(b, `{"validate": "params", "document_validators": false}`, "PUT", "/orders/{id}", nil)
	benchRequest(b, h, put("?limit=10&dry_run=true&tags=a,b&ids=1&ids=2&since=2026-01-02T03:04:05Z", goodBody, "cookie", "session=abcd"))
}

// BenchmarkLargeBody validates a 100-item body (about 3 KB).
func BenchmarkLargeBody(b *testing.B) {
	h := harness(b, `{}`, "PUT", "/orders/{id}", nil)
	body := `{"items":[` + strings.TrimSuffix(strings.Repeat(`{"name":"green tea","qty":12},`, 100), ",") + `]}`
	benchRequest(b, h, put("", body))
}

func benchRequest(b *testing.B, h *sdktest.Harness, req *sdktest.Request) {
	if r := h.Do(req); r.Err != nil || r.Status != 200 {
		b.Fatalf("%v %d %s", r.Err, r.Status, r.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := h.Do(req); r.Err != nil || r.Status != 200 {
			b.Fatalf("%v %d %s", r.Err, r.Status, r.Body)
		}
	}
}

// BenchmarkBodyParseOnly has a body schema that accepts anything: the
// cost of the body hooks, reading the body and decoding it.
func BenchmarkBodyParseOnly(b *testing.B) {
	h := harness(b, `{}`, "POST", "/nested", nil)
	benchRequest(b, h, &sdktest.Request{Method: "POST", Path: "/nested", Body: []byte(goodBody), Headers: [][2]string{{"content-type", "application/json"}}})
}
