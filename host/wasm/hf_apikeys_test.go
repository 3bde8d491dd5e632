package wasm

import (
	"context"
	"errors"
	"testing"
)

// apiKeyGuest calls api_key_verify in on_request_headers with the value
// of the x-key request header, and reports the status as the request
// header x-st ('0' + status) and, on OK, the returned document as x-doc.
// The second byte of :path picks a bad argument: "/v" a value pointer out
// of bounds, "/r" a return pointer out of bounds, "/s" a return size
// pointer straddling the end of memory; "/k" none.
const apiKeyGuest = `(module
  (import "wasmgate" "api_key_verify" (func $verify (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 1024) "x-key:pathx-stx-doc")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n))) (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $c i32) (local $vp i32) (local $vl i32) (local $rp i32) (local $rs i32) (local $st i32)
    (drop (call $get (i32.const 0) (i32.const 1029) (i32.const 5) (i32.const 2000) (i32.const 2004)))
    (local.set $c (i32.load8_u (i32.add (i32.load (i32.const 2000)) (i32.const 1))))
    (drop (call $get (i32.const 0) (i32.const 1024) (i32.const 5) (i32.const 2010) (i32.const 2014)))
    (local.set $vp (i32.load (i32.const 2010)))
    (local.set $vl (i32.load (i32.const 2014)))
    (local.set $rp (i32.const 2100))
    (local.set $rs (i32.const 2104))
    (if (i32.eq (local.get $c) (i32.const 118)) (then (local.set $vp (i32.const 70000)) (local.set $vl (i32.const 1)))) ;; v
    (if (i32.eq (local.get $c) (i32.const 114)) (then (local.set $rp (i32.const 70000)))) ;; r
    (if (i32.eq (local.get $c) (i32.const 115)) (then (local.set $rs (i32.const 65534)))) ;; s
    (local.set $st (call $verify (local.get $vp) (local.get $vl) (local.get $rp) (local.get $rs)))
    (i32.store8 (i32.const 3000) (i32.add (i32.const 48) (local.get $st)))
    (drop (call $add (i32.const 0) (i32.const 1034) (i32.const 4) (i32.const 3000) (i32.const 1)))
    (if (i32.eqz (local.get $st))
      (then (drop (call $add (i32.const 0) (i32.const 1038) (i32.const 5) (i32.load (i32.const 2100)) (i32.load (i32.const 2104))))))
    (i32.const 0)))`

// apiKeyStream is a fakeStream whose stream host has API keys.
type apiKeyStream struct {
	*fakeStream
	verify func(value string) ([]byte, error)
}

func (s apiKeyStream) VerifyAPIKey(_ context.Context, value string) ([]byte, error) {
	return s.verify(value)
}

func TestAPIKeyVerify(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, mustWat(t, apiKeyGuest), PluginConfig{PoolMin: 1, PoolMax: 1})
	const doc = `{"id":"k-abc","name":"ci","plan":null}`
	var calls []string
	keys := func(value string) ([]byte, error) {
		calls = append(calls, value)
		if value == "the-secret-value-0123456789" {
			return []byte(doc), nil
		}
		return nil, ErrAPIKeyNotFound
	}
	fail := func(err error) func(string) ([]byte, error) {
		return func(v string) ([]byte, error) { calls = append(calls, v); return nil, err }
	}
	cases := []struct {
		name, path, key string
		verify          func(string) ([]byte, error) // nil: a host without APIKeyHost
		st              byte                         // the status, as '0' + value
		doc             string
		called          bool // the host's VerifyAPIKey was reached
	}{
		{"known key", "/k", "the-secret-value-0123456789", keys, '0', doc, true},
		{"unknown key", "/k", "the-secret-value-012345678X", keys, '1', "", true},
		{"empty key", "/k", "", keys, '1', "", false},
		{"store failure", "/k", "the-secret-value-0123456789", fail(errors.New("disk on fire")), ':', "", true}, // INTERNAL_FAILURE 10
		{"no key store", "/k", "the-secret-value-0123456789", fail(ErrNoAPIKeys), '<', "", true},                // UNIMPLEMENTED 12
		{"host without APIKeyHost", "/k", "the-secret-value-0123456789", nil, '<', "", false},
		{"value out of bounds", "/v", "the-secret-value-0123456789", keys, '6', "", false},
		{"return pointer out of bounds", "/r", "the-secret-value-0123456789", keys, '6', "", false},
		{"return size straddles the end of memory", "/s", "the-secret-value-0123456789", keys, '6', "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls = nil
			fs := newFakeStream([2]string{"x-key", c.key})
			fs.reqHeaders.Set(":path", c.path)
			var host StreamHost = fs
			if c.verify != nil {
				host = apiKeyStream{fs, c.verify}
			}
			s, err := p.NewStream(context.Background(), host)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.OnRequestHeaders(fs.reqHeaders.Len(), true); err != nil {
				t.Fatal(err)
			}
			if st, _ := fs.reqHeaders.Get("x-st"); st != string(c.st) {
				t.Fatalf("status %q, want %q", st, string(c.st))
			}
			got, _ := fs.reqHeaders.Get("x-doc")
			if got != c.doc {
				t.Fatalf("document %q, want %q", got, c.doc)
			}
			if (len(calls) > 0) != c.called || (c.called && calls[0] != c.key) {
				t.Fatalf("the host was called with %q, want called=%v with %q", calls, c.called, c.key)
			}
		})
	}
}
