package wasm

import (
	"context"
	"errors"
	"testing"
	"time"
)

// policyGuest calls token_bucket_take in on_request_headers with the key
// "k" and the rate, burst and cost given as the request's :path bytes
// ("/" + rate_milli digit + burst digit + cost digit), or with a key
// pointer out of bounds when the path is "/oob", and reports the status
// and the three results as request headers x-st, x-rem, x-retry, x-reset
// (each one byte: '0' + value, values below 75).
const policyGuest = `(module
  (import "wasmgate" "token_bucket_take" (func $take (param i32 i32 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 8192))
  (data (i32.const 1024) "k:path/oobx-stx-remx-retryx-reset")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $n i32) (result i32)
    (local $p i32) (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n))) (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func $put (param $name i32) (param $len i32) (param $v i32)
    (i32.store8 (i32.const 3000) (i32.add (i32.const 48) (local.get $v)))
    (drop (call $add (i32.const 0) (local.get $name) (local.get $len) (i32.const 3000) (i32.const 1))))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
    (local $p i32) (local $st i32)
    ;; read :path into (2000, 2004)
    (drop (call $get (i32.const 0) (i32.const 1025) (i32.const 5) (i32.const 2000) (i32.const 2004)))
    (local.set $p (i32.load (i32.const 2000)))
    (if (i32.eq (i32.load8_u (i32.add (local.get $p) (i32.const 1))) (i32.const 111)) ;; 'o': /oob
      (then (local.set $st (call $take (i32.const 70000) (i32.const 1) (i64.const 1000) (i32.const 1) (i32.const 1)
                                (i32.const 2100) (i32.const 2104) (i32.const 2108))))
      (else (local.set $st (call $take (i32.const 1024) (i32.const 1)
                (i64.mul (i64.extend_i32_u (i32.sub (i32.load8_u (i32.add (local.get $p) (i32.const 1))) (i32.const 48))) (i64.const 1000))
                (i32.sub (i32.load8_u (i32.add (local.get $p) (i32.const 2))) (i32.const 48))
                (i32.sub (i32.load8_u (i32.add (local.get $p) (i32.const 3))) (i32.const 48))
                (i32.const 2100) (i32.const 2104) (i32.const 2108)))))
    (call $put (i32.const 1034) (i32.const 4) (local.get $st))
    (call $put (i32.const 1038) (i32.const 5) (i32.load (i32.const 2100)))
    (call $put (i32.const 1043) (i32.const 7) (i32.load (i32.const 2104)))
    (call $put (i32.const 1050) (i32.const 7) (i32.load (i32.const 2108)))
    (i32.const 0)))`

// policyStream is a fakeStream whose stream host has policies.
type policyStream struct {
	*fakeStream
	take func(key string, rate float64, burst, cost int) (TokenResult, error)
}

func (p policyStream) TakeTokens(_ context.Context, key string, rate float64, burst, cost int) (TokenResult, error) {
	return p.take(key, rate, burst, cost)
}

func (p policyStream) UseQuota(context.Context, string, QuotaPeriod, int64, int64) (QuotaResult, error) {
	return QuotaResult{}, ErrNoPolicy
}

func TestTokenBucketTake(t *testing.T) {
	e := newEngine(t, EngineConfig{})
	p := newPlugin(t, e, mustWat(t, policyGuest), PluginConfig{PoolMin: 1, PoolMax: 1})
	var gotKey string
	var gotRate float64
	var gotBurst, gotCost int
	allow := func(key string, rate float64, burst, cost int) (TokenResult, error) {
		gotKey, gotRate, gotBurst, gotCost = key, rate, burst, cost
		return TokenResult{Allowed: cost <= 2, Remaining: 7, RetryAfter: 1500 * time.Microsecond, ResetAfter: 3 * time.Millisecond}, nil
	}
	cases := []struct {
		name, path string
		host       StreamHost
		st         byte // the status, as '0' + value
		results    string
	}{
		{"granted", "/232", policyStream{newFakeStream(), allow}, '0', "723"},
		{"throttled (EMPTY), retry rounded up", "/233", policyStream{newFakeStream(), allow}, '7', "723"},
		{"bad rate", "/032", policyStream{newFakeStream(), allow}, '2', ""},
		{"bad burst", "/202", policyStream{newFakeStream(), allow}, '2', ""},
		{"bad cost", "/220", policyStream{newFakeStream(), allow}, '2', ""},
		{"key out of bounds", "/oob", policyStream{newFakeStream(), allow}, '6', ""},
		{"store failure", "/232", policyStream{newFakeStream(), func(string, float64, int, int) (TokenResult, error) {
			return TokenResult{}, errors.New("redis down")
		}}, 'A' - 7, ""}, // INTERNAL_FAILURE 10 → ':'
		{"argument refused by the store", "/232", policyStream{newFakeStream(), func(string, float64, int, int) (TokenResult, error) {
			return TokenResult{}, ErrPolicyArgument
		}}, '2', ""},
		{"no policies", "/232", policyStream{newFakeStream(), func(string, float64, int, int) (TokenResult, error) {
			return TokenResult{}, ErrNoPolicy
		}}, '<', ""}, // UNIMPLEMENTED 12
		{"host without PolicyHost", "/232", newFakeStream(), '<', ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var fs *fakeStream
			switch h := c.host.(type) {
			case policyStream:
				fs = h.fakeStream
			case *fakeStream:
				fs = h
			}
			fs.reqHeaders.Set(":path", c.path)
			s, err := p.NewStream(context.Background(), c.host)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.OnRequestHeaders(fs.reqHeaders.Len(), true); err != nil {
				t.Fatal(err)
			}
			st, _ := fs.reqHeaders.Get("x-st")
			if st != string(c.st) {
				t.Fatalf("status %q, want %q", st, string(c.st))
			}
			if c.results != "" {
				rem, _ := fs.reqHeaders.Get("x-rem")
				retry, _ := fs.reqHeaders.Get("x-retry")
				reset, _ := fs.reqHeaders.Get("x-reset")
				if got := rem + retry + reset; got != string([]byte{'0' + c.results[0] - '0', '0' + c.results[1] - '0', '0' + c.results[2] - '0'}) {
					t.Fatalf("results %q, want %q", got, c.results)
				}
				if gotKey != "k" || gotRate != 2 || gotBurst != 3 {
					t.Fatalf("the store got key %q rate %v burst %d cost %d", gotKey, gotRate, gotBurst, gotCost)
				}
			}
		})
	}
}
