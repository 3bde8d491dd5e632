package config

import (
	"strings"
	"testing"
)

func TestParsePluginRef(t *testing.T) {
	const hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	tests := []struct {
		ref                   string
		name, version, digest string
		err                   string // a substring of the error, "" for none
	}{
		{ref: "cors", name: "cors"},
		{ref: "cors@1.2.0", name: "cors", version: "1.2.0"},
		{ref: "rate-limit@v2.0.0-rc.1+build.5", name: "rate-limit", version: "v2.0.0-rc.1+build.5"},
		{ref: "GetPets_Function", name: "GetPets_Function"},
		{ref: "sha256:" + hex, digest: "sha256:" + hex},
		{ref: "cors@sha256:" + hex, name: "cors", digest: "sha256:" + hex},
		{ref: "file:plugins/cors.wasm", name: "cors"},
		{ref: "file:../shared/jwt.wasm", name: "jwt"},
		{ref: "", err: "empty plugin reference"},
		{ref: "@1.0", err: "bad plugin name"},
		{ref: "-cors", err: "bad plugin name"},
		{ref: "co rs", err: "bad plugin name"},
		{ref: strings.Repeat("a", 129), err: "bad plugin name"},
		{ref: "cors@", err: "bad plugin version"},
		{ref: "cors@1.0@2", err: "bad plugin version"},
		{ref: "sha256:" + hex[1:], err: "got 63 characters"},
		{ref: "sha256:" + strings.ToUpper(hex), err: "64 lower-case hex digits"},
		{ref: "cors@sha256:xyz", err: "64 lower-case hex digits"},
		{ref: "file:", err: "names a .wasm file"},
		{ref: "file:plugins/.wasm", err: "names a .wasm file"},
		{ref: "file:plugin.so", err: "names a .wasm file"},
		{ref: "file:/abs/cors.wasm", err: "relative to the document"},
		{ref: `file:C:\cors.wasm`, err: "relative to the document"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			r, err := ParsePluginRef(tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Ref != tt.ref || r.Name != tt.name || r.Version != tt.version || r.Digest != tt.digest {
				t.Errorf("got %+v", r)
			}
			if string(r.Config) != "{}" || r.OnError != FailClosed {
				t.Errorf("defaults: config %s, on_error %q", r.Config, r.OnError)
			}
		})
	}
}
