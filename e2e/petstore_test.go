package e2e

import (
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/examples"
)

// TestPetstoreExample serves the embedded petstore example (what
// `wasmgate serve` serves without --api) with its demo backend, the
// plugins built from source: the function route /hello/{name} in both
// stages, next to the proxied, mocked and stored routes.
func TestPetstoreExample(t *testing.T) {
	backend, err := examples.StartPetstoreBackend("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { backend.Close() })
	// `wasmgate serve` points the stages' backend variable at the demo
	// backend the same way.
	doc := strings.ReplaceAll(string(examples.Petstore), "backend: http://127.0.0.1:9000", "backend: "+backend.URL)
	if strings.Count(doc, backend.URL) != 2 {
		t.Fatalf("the petstore stages no longer declare backend: http://127.0.0.1:9000")
	}
	e := startGateway(t, doc, nil)

	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		body               string
		headers            map[string]string
	}{
		{"hello in dev", "GET", "/dev/hello/alice", nil, 200, `{"message":"hello, alice","stage":"dev"}`,
			map[string]string{"Content-Type": "application/json", "X-Wasmgate-Plugin": "template"}},
		{"hello in prod", "GET", "/prod/hello/bob", nil, 200, `{"message":"hello, bob","stage":"prod"}`,
			map[string]string{"Content-Type": "application/json", "X-Wasmgate-Plugin": "template"}},
		{"hello, escaped name", "GET", "/dev/hello/J%C3%BCrgen%20%22J%22?name=ignored", nil, 200, `{"message":"hello, Jürgen \"J\"","stage":"dev"}`, nil},
		{"hello, name too long", "GET", "/prod/hello/" + strings.Repeat("n", 129), nil, 400, `{"message":"name is too long (at most 128 characters)"}`, nil},
		{"hello, control character", "GET", "/dev/hello/a%07b", nil, 400, `{"message":"name must be printable text"}`, nil},
		{"hello is GET only", "POST", "/dev/hello/alice", nil, 405, "", map[string]string{"Allow": "GET"}},
		{"hello, CORS preflight", "OPTIONS", "/dev/hello/alice", []string{"Origin", "https://example.com", "Access-Control-Request-Method", "GET"}, 204, "",
			map[string]string{"Access-Control-Allow-Origin": "*"}},
		{"hello without a name", "GET", "/dev/hello/", nil, 404, "", nil},
		{"pets", "GET", "/dev/pets/1", nil, 200, `{"id":1,"name":"Rex","tag":"dog"}` + "\n", map[string]string{"X-Wasmgate-Plugin": "template"}},
		{"no pet in prod", "GET", "/prod/pets/42", nil, 404, `{"message":"no pet 42"}` + "\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, newRequest(t, tt.method, e.base+tt.path, nil, tt.hdr...))
			if r.status != tt.status || tt.body != "" && r.body != tt.body {
				t.Fatalf("got %d %q, want %d %q", r.status, r.body, tt.status, tt.body)
			}
			for k, v := range tt.headers {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
	r := do(t, nil, "GET", e.base+"/prod/health", nil)
	if r.status != 200 || !strings.HasPrefix(r.body, `{"status":"ok","stage":"prod","requestId":"`+r.header.Get("X-Request-Id")+`"`) {
		t.Errorf("health: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "PUT", e.base+"/dev/store/greeting", strings.NewReader(`{"hi":1}`)); r.status != 200 {
		t.Errorf("store put: %d %s", r.status, r.body)
	}
	if r := do(t, nil, "GET", e.base+"/dev/store/greeting", nil); r.status != 200 || r.body != `{"hi":1}` {
		t.Errorf("store get: %d %s", r.status, r.body)
	}
}
