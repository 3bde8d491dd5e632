package config

import (
	"os"
	"reflect"
	"testing"
)

// TestUpstreamsExport: x-wasmgate-upstreams survives an export in both
// formats.
func TestUpstreamsExport(t *testing.T) {
	data, err := os.ReadFile("testdata/valid/upstreams.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := Parse("upstreams.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatOAS3, FormatSwagger2} {
		out, err := Export(api, format)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("exported.yaml", out)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !reflect.DeepEqual(back.Upstreams, api.Upstreams) {
			t.Errorf("%s: upstreams differ after export:\n%+v\n%+v", format, back.Upstreams, api.Upstreams)
		}
	}
}

func TestUpstreamHelpers(t *testing.T) {
	hc := &HealthCheck{ExpectedStatus: []string{"2xx", "301"}}
	for code, want := range map[int]bool{200: true, 204: true, 301: true, 302: false, 500: false} {
		if got := hc.MatchStatus(code); got != want {
			t.Errorf("MatchStatus(%d) = %v", code, got)
		}
	}
	for uri, want := range map[string]string{"upstream://users/a/{id}": "users", "upstream://search": "search", "http://x/y": ""} {
		if got := UpstreamName(uri); got != want {
			t.Errorf("UpstreamName(%q) = %q, want %q", uri, got, want)
		}
	}
	if k, n, ok := HashSource("hash:header:X-User"); !ok || k != "header" || n != "X-User" {
		t.Errorf("HashSource: %q %q %v", k, n, ok)
	}
	if _, _, ok := HashSource("least_request"); ok {
		t.Error("HashSource accepted least_request")
	}
}
