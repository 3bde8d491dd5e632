package conformance

import (
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// Shorthands for the tables below.
const (
	sOK          = abi.StatusOK
	sNotFound    = abi.StatusNotFound
	sBadArg      = abi.StatusBadArgument
	sSerialize   = abi.StatusSerializationFailure
	sParse       = abi.StatusParseFailure
	sIMA         = abi.StatusInvalidMemoryAccess
	sEmpty       = abi.StatusEmpty
	sCAS         = abi.StatusCASMismatch
	sInternal    = abi.StatusInternalFailure
	sUnimpl      = abi.StatusUnimplemented
	vmStart      = PhaseVMStart
	configure    = PhaseConfigure
	reqHeaders   = PhaseRequestHeaders
	reqBody      = PhaseRequestBody
	reqTrailers  = PhaseRequestTrailers
	respHeaders  = PhaseResponseHeaders
	respBody     = PhaseResponseBody
	respTrailers = PhaseResponseTrailers
	tick         = PhaseTick
)

var knownStatuses = []abi.Status{sOK, sNotFound, sBadArg, sSerialize, sParse, sIMA, sEmpty, sCAS, sInternal, sUnimpl}

// group is the cases of one host function (or family).
type group struct {
	name  string
	cases []probeCase
}

func slotIs(k int, want uint64) func(testing.TB, Result) {
	return func(t testing.TB, r Result) {
		t.Helper()
		if r.Slots[k] != want {
			t.Errorf("host discrepancy: output slot %d = %d, want %d", k, r.Slots[k], want)
		}
	}
}

func mapIs(want [][2]string) func(testing.TB, Result) {
	return func(t testing.TB, r Result) {
		t.Helper()
		got, err := decodeMapResult(r)
		if err != nil {
			t.Errorf("host discrepancy: returned map: %v", err)
			return
		}
		if !samePairs(got, want) {
			t.Errorf("host discrepancy: returned map %q, want %q", got, want)
		}
	}
}

func fieldsAre(t *testing.T, what string, f *Fields, want [][2]string) {
	t.Helper()
	if f == nil || !samePairs(f.Pairs, want) {
		var got [][2]string
		if f != nil {
			got = f.Pairs
		}
		t.Errorf("host discrepancy: %s = %q, want %q", what, got, want)
	}
}

func bodyIs(t *testing.T, what string, b *Buffer, want string) {
	t.Helper()
	if string(b.B) != want {
		t.Errorf("host discrepancy: %s = %q, want %q", what, b.B, want)
	}
}

func with(pairs [][2]string, extra ...[2]string) [][2]string {
	return append(append([][2]string(nil), pairs...), extra...)
}

func without(pairs [][2]string, key string) [][2]string {
	var out [][2]string
	for _, p := range pairs {
		if p[0] != key {
			out = append(out, p)
		}
	}
	return out
}

func setValue(pairs [][2]string, key, value string) [][2]string {
	f := NewFields(pairs...)
	f.Set(key, value)
	return f.Pairs
}

// hostFunctionGroups returns the per-host-function tables. nonce keeps
// shared-data keys, queue and metric names unique per run.
func hostFunctionGroups(nonce string) []group {
	reqPath := Str("request\x00path")
	encoded := func(pairs ...[2]string) Arg { return Str(string(abi.EncodeMap(pairs))) }
	mapSize := func(p [][2]string) uint64 { return uint64(abi.EncodedMapSize(p)) }
	key := func(s string) string { return "cf-" + nonce + "-" + s }

	return []group{
		{abi.FuncLog, []probeCase{
			{name: "ok", steps: []Step{
				Call(reqHeaders, abi.FuncLog, Imm(uint32(abi.LogWarn)), Str("probe: hello warn")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				if !slices.Contains(e.sink.snapshot(), LogLine{abi.LogWarn, "probe: hello warn"}) {
					t.Errorf("host discrepancy: the line did not reach the log at level warn")
				}
			}},
			{name: "every_level", steps: func() []Step {
				var s []Step
				for l := abi.LogTrace; l <= abi.LogCritical; l++ {
					s = append(s, Call(reqHeaders, abi.FuncLog, Imm(uint32(l)), Str("probe: level "+l.String())).Want(sOK))
				}
				return s
			}(), check: func(t *testing.T, e *probeEnv) {
				for l := abi.LogTrace; l <= abi.LogCritical; l++ {
					if !slices.Contains(e.sink.snapshot(), LogLine{l, "probe: level " + l.String()}) {
						t.Errorf("host discrepancy: no %s line in the log", l)
					}
				}
			}},
			{name: "root_context", steps: []Step{
				Call(configure, abi.FuncLog, Imm(2), Str("probe: from root")).Want(sOK),
			}},
			{name: "bad_level", steps: []Step{
				Call(reqHeaders, abi.FuncLog, Imm(6), Str("x")).Want(sBadArg),
				Call(reqHeaders, abi.FuncLog, Imm(0xffff_ffff), Str("x")).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncLog, Imm(2), Imm(OOB), Imm(16)).Want(sIMA),
				Call(reqHeaders, abi.FuncLog, Imm(2), MemEnd(-4), Imm(8)).Want(sIMA),
				Call(reqHeaders, abi.FuncLog, Imm(2), Ptr("x"), Imm(0xffff_ffff)).Want(sIMA),
			}},
		}},
		{abi.FuncGetLogLevel, []probeCase{
			{name: "ok", steps: []Step{
				Call(reqHeaders, abi.FuncGetLogLevel, Out(0)).Want(sOK).Check(func(t testing.TB, r Result) {
					if !abi.LogLevel(r.Slots[0]).Valid() {
						t.Errorf("host discrepancy: log level %d is not a proxy_log_level_t", r.Slots[0])
					}
				}),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetLogLevel, Imm(0xffff_fffe)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetLogLevel, MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncGetCurrentTimeNanos, []probeCase{
			{name: "real_wall_clock", steps: []Step{
				Call(reqHeaders, abi.FuncGetCurrentTimeNanos, Out(0)).Want(sOK).Check(func(t testing.TB, r Result) {
					got := time.Unix(0, int64(r.Slots[0]))
					if d := time.Since(got); d < -time.Minute || d > time.Minute {
						t.Errorf("host discrepancy: time %v is not the wall clock (%v)", got, time.Now())
					}
				}),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetCurrentTimeNanos, Imm(0xffff_fffc)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetCurrentTimeNanos, MemEnd(-4)).Want(sIMA),
			}},
		}},
		{abi.FuncSetTickPeriod, []probeCase{
			{name: "ticks_and_stops", steps: []Step{
				Call(configure, abi.FuncSetTickPeriod, Imm(10)).Want(sOK),
				Call(tick, abi.FuncSetTickPeriod, Imm(0)).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				count := func() int {
					n := 0
					for _, tr := range e.sink.traces() {
						if tr.Phase == PhaseTick {
							n++
						}
					}
					return n
				}
				time.Sleep(50 * time.Millisecond)
				n := count()
				time.Sleep(200 * time.Millisecond)
				if m := count(); m > n {
					t.Errorf("host discrepancy: %d more ticks after a tick period of 0", m-n)
				}
			}},
			{name: "wrong_context/stream_data_from_on_tick", steps: []Step{
				Call(configure, abi.FuncSetTickPeriod, Imm(10)).Want(sOK),
				Call(tick, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sBadArg),
				Call(tick, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), Out(1)).Want(sBadArg),
				Call(tick, abi.FuncGetBufferStatus, Imm(0), Out(0), Out(1)).Want(sNotFound),
				Call(tick, abi.FuncGetBufferBytes, Imm(1), Imm(0), Imm(10), Out(0), Out(1)).Want(sNotFound),
				Call(tick, abi.FuncSetTickPeriod, Imm(0)).Want(sOK),
			}},
		}},
		{abi.FuncGetProperty, []probeCase{
			{name: "request_path", steps: []Step{
				Call(reqHeaders, abi.FuncGetProperty, reqPath, Out(0), Out(1)).Deref(0, 1).WantData(FixturePath),
			}},
			{name: "trailing_nul", steps: []Step{
				Call(reqHeaders, abi.FuncGetProperty, Str("request\x00path\x00"), Out(0), Out(1)).Deref(0, 1).WantData(FixturePath),
			}},
			{name: "plugin_name_in_stream", steps: []Step{
				Call(reqHeaders, abi.FuncGetProperty, Str("plugin_name"), Out(0), Out(1)).Deref(0, 1).WantData("probe"),
			}},
			{name: "plugin_name_in_root", steps: []Step{
				Call(configure, abi.FuncGetProperty, Str("plugin_name"), Out(0), Out(1)).Deref(0, 1).WantData("probe"),
			}},
			{name: "unknown", steps: []Step{
				Call(reqHeaders, abi.FuncGetProperty, Str("conformance\x00missing"), Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "wrong_context/request_path_in_root", steps: []Step{
				Call(configure, abi.FuncGetProperty, reqPath, Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetProperty, Imm(OOB), Imm(12), Out(0), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetProperty, Ptr("request\x00path"), Imm(0xffff_ffff), Out(0), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetProperty, reqPath, Imm(OOB), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetProperty, reqPath, Out(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncSetProperty, []probeCase{
			{name: "writable", steps: []Step{
				Call(reqHeaders, abi.FuncSetProperty, Str("conformance\x00writable"), Str("new")).Want(sOK),
				Call(reqHeaders, abi.FuncGetProperty, Str("conformance\x00writable"), Out(0), Out(1)).Deref(0, 1).WantData("new"),
			}, check: func(t *testing.T, e *probeEnv) {
				if v, _ := e.x.Property(WritableProperty); string(v) != "new" {
					t.Errorf("host discrepancy: property is %q, want \"new\"", v)
				}
			}},
			{name: "read_only", steps: []Step{
				Call(reqHeaders, abi.FuncSetProperty, reqPath, Str("/x")).Want(sNotFound),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncSetProperty, Imm(OOB), Imm(4), Str("v")).Want(sIMA),
				Call(reqHeaders, abi.FuncSetProperty, Str("conformance\x00writable"), Imm(OOB), Imm(4)).Want(sIMA),
			}},
		}},
		{abi.FuncSetEffectiveContext, []probeCase{
			{name: "unknown_id", steps: []Step{
				Call(reqHeaders, abi.FuncSetEffectiveContext, Imm(0xfffff)).Want(sBadArg),
				Call(reqHeaders, abi.FuncSetEffectiveContext, Imm(0)).Want(sBadArg),
				// The failed switches left the stream effective.
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sOK),
			}},
			{name: "to_root_and_back", steps: []Step{
				Call(reqHeaders, abi.FuncSetEffectiveContext, RootCtx()).Want(sOK),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sBadArg),
				Call(reqHeaders, abi.FuncSetEffectiveContext, Ctx()).Want(sOK),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sOK),
			}},
			{name: "from_on_tick_into_stream", steps: []Step{
				Call(configure, abi.FuncSetTickPeriod, Imm(5)).Want(sOK),
				SetSlot(reqHeaders, 5, Ctx()),
				Call(tick, abi.FuncSetEffectiveContext, Slot(5)),
				Call(tick, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), Out(1)).Deref(0, 1),
			}, pause: func(t *testing.T, e *probeEnv) {
				// Hold the stream open until a tick switched into it.
				if !eventually(5*time.Second, func() bool { return tickReadPath(e) }) {
					t.Errorf("host discrepancy: no on_tick managed to switch into the open stream and read its :path")
				}
			}},
		}},
		{abi.FuncDone, []probeCase{
			{name: "not_pending", steps: []Step{
				Call(reqHeaders, abi.FuncDone).Want(sNotFound),
				Call(configure, abi.FuncDone).Want(sNotFound),
			}},
		}},
		{abi.FuncCallForeignFunction, []probeCase{
			{name: "unknown_function", steps: []Step{
				Call(reqHeaders, abi.FuncCallForeignFunction, Str("conformance_nope"), Str("args"), Out(0), Out(1)).Want(sNotFound, sUnimpl),
			}},
		}},
		{abi.FuncGetBufferBytes, []probeCase{
			{name: "request_body", steps: []Step{
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(uint32(len(FixtureRequestBody))), Out(0), Out(1)).Deref(0, 1).WantData(FixtureRequestBody),
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(6), Imm(7), Out(0), Out(1)).Deref(0, 1).WantData("request"),
			}},
			{name: "response_body", steps: []Step{
				Call(respBody, abi.FuncGetBufferBytes, Imm(1), Imm(0), Imm(uint32(len(FixtureResponseBody))), Out(0), Out(1)).Deref(0, 1).WantData(FixtureResponseBody),
			}},
			{name: "max_size_past_end_is_clamped", steps: []Step{
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(0xffff), Out(0), Out(1)).Deref(0, 1).WantData(FixtureRequestBody),
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(6), Imm(0xffff_ffff), Out(0), Out(1)).Deref(0, 1).WantData("request"),
			}},
			{name: "zero_length", steps: []Step{
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(0), Out(0), Out(1)).Want(sOK).Check(slotIs(1, 0)),
			}},
			{name: "plugin_configuration_in_on_configure", steps: []Step{
				Call(configure, abi.FuncGetBufferBytes, Imm(7), Imm(0), Imm(4), Out(0), Out(1)).Deref(0, 1).WantData("CF01"),
			}},
			{name: "vm_configuration_in_on_vm_start", steps: []Step{
				Call(vmStart, abi.FuncGetBufferBytes, Imm(6), Imm(0), Imm(4), Out(0), Out(1)).Deref(0, 1).WantData("CF01"),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqBody, abi.FuncGetBufferBytes, Imm(9), Imm(0), Imm(4), Out(0), Out(1)).Want(sBadArg),
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0xffff_ffff), Imm(0), Imm(4), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(4), Out(0), Out(1)).Want(sNotFound),
				Call(reqHeaders, abi.FuncGetBufferBytes, Imm(1), Imm(0), Imm(4), Out(0), Out(1)).Want(sNotFound),
				Call(reqHeaders, abi.FuncGetBufferBytes, Imm(4), Imm(0), Imm(4), Out(0), Out(1)).Want(sNotFound),
				Call(reqHeaders, abi.FuncGetBufferBytes, Imm(7), Imm(0), Imm(4), Out(0), Out(1)).Want(sNotFound),
				Call(configure, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(4), Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "oob", steps: []Step{
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(4), Imm(OOB), Out(1)).Want(sIMA),
				Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(4), Out(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncSetBufferBytes, setBufferCases()},
		{abi.FuncGetBufferStatus, []probeCase{
			{name: "ok", steps: []Step{
				Call(reqBody, abi.FuncGetBufferStatus, Imm(0), Out(0), Out(1)).Want(sOK).Check(slotIs(0, uint64(len(FixtureRequestBody)))),
				Call(respBody, abi.FuncGetBufferStatus, Imm(1), Out(0), Out(1)).Want(sOK).Check(slotIs(0, uint64(len(FixtureResponseBody)))),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqBody, abi.FuncGetBufferStatus, Imm(9), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncGetBufferStatus, Imm(0), Out(0), Out(1)).Want(sNotFound),
				Call(configure, abi.FuncGetBufferStatus, Imm(0), Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "oob", steps: []Step{
				Call(reqBody, abi.FuncGetBufferStatus, Imm(0), Imm(OOB), Out(1)).Want(sIMA),
				Call(reqBody, abi.FuncGetBufferStatus, Imm(0), Out(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncGetHeaderMapSize, []probeCase{
			{name: "every_http_map", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sOK).Check(slotIs(0, mapSize(FixtureRequestHeaders))),
				Call(reqTrailers, abi.FuncGetHeaderMapSize, Imm(1), Out(0)).Want(sOK).Check(slotIs(0, mapSize(FixtureRequestTrailers))),
				Call(respHeaders, abi.FuncGetHeaderMapSize, Imm(2), Out(0)).Want(sOK).Check(slotIs(0, mapSize(FixtureResponseHeaders))),
				Call(respTrailers, abi.FuncGetHeaderMapSize, Imm(3), Out(0)).Want(sOK).Check(slotIs(0, mapSize(FixtureResponseTrailers))),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(8), Out(0)).Want(sBadArg),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0xffff_ffff), Out(0)).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(2), Out(0)).Want(sBadArg),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(3), Out(0)).Want(sBadArg),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(4), Out(0)).Want(sBadArg),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(6), Out(0)).Want(sBadArg),
				Call(configure, abi.FuncGetHeaderMapSize, Imm(0), Out(0)).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), Imm(OOB)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetHeaderMapSize, Imm(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncGetHeaderMapPairs, []probeCase{
			{name: "every_http_map", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(0), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs(FixtureRequestHeaders)),
				Call(reqTrailers, abi.FuncGetHeaderMapPairs, Imm(1), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs(FixtureRequestTrailers)),
				Call(respHeaders, abi.FuncGetHeaderMapPairs, Imm(2), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs(FixtureResponseHeaders)),
				Call(respTrailers, abi.FuncGetHeaderMapPairs, Imm(3), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs(FixtureResponseTrailers)),
			}},
			{name: "empty_map", setup: func(x *Exchange) { x.ResponseTrailers = NewFields() }, steps: []Step{
				Call(respTrailers, abi.FuncGetHeaderMapPairs, Imm(3), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs(nil)),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(8), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(2), Out(0), Out(1)).Want(sBadArg),
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(7), Out(0), Out(1)).Want(sBadArg),
				Call(configure, abi.FuncGetHeaderMapPairs, Imm(0), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(0), Imm(OOB), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(0), Out(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncSetHeaderMapPairs, []probeCase{
			{name: "request_headers", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), encoded([2]string{"a", "1"}, [2]string{"b", "22"})).Want(sOK),
				Call(reqHeaders, abi.FuncGetHeaderMapPairs, Imm(0), Out(0), Out(1)).Deref(0, 1).Want(sOK).Check(mapIs([][2]string{{"a", "1"}, {"b", "22"}})),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, [][2]string{{"a", "1"}, {"b", "22"}})
			}},
			{name: "response_headers_keep_duplicates", steps: []Step{
				Call(respHeaders, abi.FuncSetHeaderMapPairs, Imm(2), encoded([2]string{"set-cookie", "x=1"}, [2]string{"set-cookie", "y=2"})).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "response headers", e.x.ResponseHeaders, [][2]string{{"set-cookie", "x=1"}, {"set-cookie", "y=2"}})
			}},
			{name: "empty", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), Str("")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, nil)
			}},
			{name: "malformed_does_not_trap", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), Str("\xff\xff\xff\x7f\x01\x00\x00\x00")).Want(knownStatuses...),
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), Str("\x01\x00\x00\x00\xff\xff\xff\xff\x00\x00\x00\x00ab")).Want(knownStatuses...),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(8), encoded([2]string{"a", "1"})).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(2), encoded([2]string{"a", "1"})).Want(sBadArg),
				Call(configure, abi.FuncSetHeaderMapPairs, Imm(0), encoded([2]string{"a", "1"})).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), Imm(OOB), Imm(16)).Want(sIMA),
				Call(reqHeaders, abi.FuncSetHeaderMapPairs, Imm(0), MemEnd(-4), Imm(16)).Want(sIMA),
			}},
		}},
		{abi.FuncGetHeaderMapValue, []probeCase{
			{name: "present", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), Out(1)).Deref(0, 1).WantData(FixturePath),
				Call(reqTrailers, abi.FuncGetHeaderMapValue, Imm(1), Str("x-req-trailer"), Out(0), Out(1)).Deref(0, 1).WantData("rt"),
				Call(respHeaders, abi.FuncGetHeaderMapValue, Imm(2), Str("content-type"), Out(0), Out(1)).Deref(0, 1).WantData("text/plain"),
				Call(respTrailers, abi.FuncGetHeaderMapValue, Imm(3), Str("x-resp-trailer"), Out(0), Out(1)).Deref(0, 1).WantData("st"),
			}},
			{name: "multi_value_first", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str("x-multi"), Out(0), Out(1)).Deref(0, 1).WantData("one"),
			}},
			{name: "empty_value", setup: func(x *Exchange) { x.RequestHeaders.Add("x-empty", "") }, steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str("x-empty"), Out(0), Out(1)).Want(sOK).Check(slotIs(1, 0)),
			}},
			{name: "missing", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str("x-missing"), Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(8), Str(":path"), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(2), Str("content-type"), Out(0), Out(1)).Want(sBadArg),
				Call(configure, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), Out(1)).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Imm(OOB), Imm(5), Out(0), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Ptr(":path"), Imm(0xffff_ffff), Out(0), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Imm(OOB), Out(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str(":path"), Out(0), MemEnd(-2)).Want(sIMA),
			}},
		}},
		{abi.FuncAddHeaderMapValue, []probeCase{
			{name: "request", steps: []Step{
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(0), Str("x-added"), Str("1")).Want(sOK),
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(0), Str("x-multi"), Str("three")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, with(FixtureRequestHeaders, [2]string{"x-added", "1"}, [2]string{"x-multi", "three"}))
			}},
			{name: "response_and_trailers", steps: []Step{
				Call(respHeaders, abi.FuncAddHeaderMapValue, Imm(2), Str("set-cookie"), Str("c=3")).Want(sOK),
				Call(respTrailers, abi.FuncAddHeaderMapValue, Imm(3), Str("x-t"), Str("2")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "response headers", e.x.ResponseHeaders, with(FixtureResponseHeaders, [2]string{"set-cookie", "c=3"}))
				fieldsAre(t, "response trailers", e.x.ResponseTrailers, with(FixtureResponseTrailers, [2]string{"x-t", "2"}))
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(8), Str("a"), Str("1")).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(2), Str("a"), Str("1")).Want(sBadArg),
				Call(configure, abi.FuncAddHeaderMapValue, Imm(0), Str("a"), Str("1")).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(0), Imm(OOB), Imm(1), Str("1")).Want(sIMA),
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(0), Str("a"), Imm(OOB), Imm(1)).Want(sIMA),
				Call(reqHeaders, abi.FuncAddHeaderMapValue, Imm(0), Str("a"), MemEnd(-1), Imm(2)).Want(sIMA),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, FixtureRequestHeaders)
			}},
		}},
		{abi.FuncReplaceHeaderMapValue, []probeCase{
			{name: "existing", steps: []Step{
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(0), Str("x-test"), Str("b")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, setValue(FixtureRequestHeaders, "x-test", "b"))
			}},
			{name: "multi_value_collapses", steps: []Step{
				Call(respHeaders, abi.FuncReplaceHeaderMapValue, Imm(2), Str("set-cookie"), Str("only=1")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				if v := e.x.ResponseHeaders.Values("set-cookie"); !slices.Equal(v, []string{"only=1"}) {
					t.Errorf("host discrepancy: set-cookie = %q, want [only=1]", v)
				}
			}},
			{name: "missing_adds", steps: []Step{
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(0), Str("x-new"), Str("n")).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, with(FixtureRequestHeaders, [2]string{"x-new", "n"}))
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(8), Str("a"), Str("1")).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(3), Str("a"), Str("1")).Want(sBadArg),
				Call(configure, abi.FuncReplaceHeaderMapValue, Imm(0), Str("a"), Str("1")).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(0), Imm(OOB), Imm(1), Str("1")).Want(sIMA),
				Call(reqHeaders, abi.FuncReplaceHeaderMapValue, Imm(0), Str("x-test"), Imm(OOB), Imm(1)).Want(sIMA),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, FixtureRequestHeaders)
			}},
		}},
		{abi.FuncRemoveHeaderMapValue, []probeCase{
			{name: "existing_and_multi", steps: []Step{
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(0), Str("x-test")).Want(sOK),
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(0), Str("x-multi")).Want(sOK),
				Call(reqHeaders, abi.FuncGetHeaderMapValue, Imm(0), Str("x-multi"), Out(0), Out(1)).Want(sNotFound),
			}, check: func(t *testing.T, e *probeEnv) {
				fieldsAre(t, "request headers", e.x.RequestHeaders, without(without(FixtureRequestHeaders, "x-test"), "x-multi"))
			}},
			{name: "missing_is_ok", steps: []Step{
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(0), Str("x-missing")).Want(sOK),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(8), Str("a")).Want(sBadArg),
			}},
			{name: "wrong_context", steps: []Step{
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(2), Str("a")).Want(sBadArg),
				Call(configure, abi.FuncRemoveHeaderMapValue, Imm(0), Str("a")).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(0), Imm(OOB), Imm(4)).Want(sIMA),
				Call(reqHeaders, abi.FuncRemoveHeaderMapValue, Imm(0), MemEnd(-2), Imm(4)).Want(sIMA),
			}},
		}},
		{abi.FuncContinueStream, []probeCase{
			{name: "http_request_and_response", steps: []Step{
				Call(reqHeaders, abi.FuncContinueStream, Imm(0)).Want(sOK),
				Call(respHeaders, abi.FuncContinueStream, Imm(1)).Want(sOK),
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncContinueStream, Imm(9)).Want(sBadArg),
				Call(reqHeaders, abi.FuncContinueStream, Imm(0xffff_ffff)).Want(sBadArg),
			}},
			{name: "tcp_stream_on_http", steps: []Step{
				Call(reqHeaders, abi.FuncContinueStream, Imm(2)).Want(sBadArg, sUnimpl),
			}},
		}},
		{abi.FuncCloseStream, []probeCase{
			{name: "http_response", steps: []Step{
				Call(respTrailers, abi.FuncCloseStream, Imm(1)).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				if !slices.Equal(e.x.Closed, []abi.StreamType{abi.StreamHTTPResponse}) {
					t.Errorf("host discrepancy: closed streams %v, want [HTTP_RESPONSE]", e.x.Closed)
				}
			}},
			{name: "unknown_type", steps: []Step{
				Call(reqHeaders, abi.FuncCloseStream, Imm(9)).Want(sBadArg),
			}},
		}},
		{abi.FuncSendLocalResponse, []probeCase{
			{name: "ok", headersOnly: true, steps: []Step{
				Call(reqHeaders, abi.FuncSendLocalResponse, Imm(403), Str("denied"), Str("no entry"),
					encoded([2]string{"x-r", "1"}, [2]string{"set-cookie", "a"}, [2]string{"set-cookie", "b"}), Imm(0xffff_ffff)).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				want := LocalResponse{StatusCode: 403, StatusDetails: "denied", Body: []byte("no entry"),
					Headers: [][2]string{{"x-r", "1"}, {"set-cookie", "a"}, {"set-cookie", "b"}}, GRPCStatus: -1}
				if len(e.x.LocalResponses) != 1 {
					t.Fatalf("host discrepancy: %d local responses, want 1", len(e.x.LocalResponses))
				}
				got := e.x.LocalResponses[0]
				if got.StatusCode != want.StatusCode || got.StatusDetails != want.StatusDetails ||
					string(got.Body) != string(want.Body) || !samePairs(got.Headers, want.Headers) || got.GRPCStatus != want.GRPCStatus {
					t.Errorf("host discrepancy: local response %+v, want %+v", got, want)
				}
			}},
			{name: "oob", headersOnly: true, steps: []Step{
				Call(reqHeaders, abi.FuncSendLocalResponse, Imm(403), Imm(OOB), Imm(4), Str(""), Str(""), Imm(0xffff_ffff)).Want(sIMA),
				Call(reqHeaders, abi.FuncSendLocalResponse, Imm(403), Str(""), Imm(OOB), Imm(4), Str(""), Imm(0xffff_ffff)).Want(sIMA),
				Call(reqHeaders, abi.FuncSendLocalResponse, Imm(403), Str(""), Str(""), MemEnd(-4), Imm(16), Imm(0xffff_ffff)).Want(sIMA),
			}, check: func(t *testing.T, e *probeEnv) {
				if len(e.x.LocalResponses) != 0 {
					t.Errorf("host discrepancy: a local response was sent despite invalid memory: %+v", e.x.LocalResponses)
				}
			}},
		}},
		{abi.FuncGetStatus, []probeCase{
			{name: "outside_http_call_response_does_not_trap", steps: []Step{
				Call(reqHeaders, abi.FuncGetStatus, Out(0), Out(1), Out(2)).Want(knownStatuses...),
			}},
		}},
		{abi.FuncHTTPCall, []probeCase{
			{name: "unknown_upstream", steps: []Step{
				Call(reqHeaders, abi.FuncHTTPCall, Str("conformance-nowhere"),
					encoded([2]string{":method", "GET"}, [2]string{":path", "/"}, [2]string{":authority", "x"}),
					Str(""), Str(""), Imm(1000), Out(0)).Want(sBadArg),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncHTTPCall, Imm(OOB), Imm(8), Str(""), Str(""), Str(""), Imm(1000), Out(0)).Want(sIMA),
			}},
		}},
		{"proxy_grpc_*", []probeCase{
			{name: "unknown_upstream_or_id_does_not_trap", steps: []Step{
				Call(reqHeaders, abi.FuncGRPCCall, Str("conformance-nowhere"), Str("svc"), Str("m"), Str(""), Str("msg"), Imm(1000), Out(0)).
					Want(sParse, sBadArg, sNotFound, sInternal, sUnimpl),
				Call(reqHeaders, abi.FuncGRPCStream, Str("conformance-nowhere"), Str("svc"), Str("m"), Str(""), Out(0)).
					Want(sParse, sBadArg, sNotFound, sInternal, sUnimpl),
				Call(reqHeaders, abi.FuncGRPCSend, Imm(12345), Str("msg"), Imm(0)).Want(sNotFound, sBadArg, sUnimpl),
				Call(reqHeaders, abi.FuncGRPCCancel, Imm(12345)).Want(sNotFound, sBadArg, sUnimpl),
				Call(reqHeaders, abi.FuncGRPCClose, Imm(12345)).Want(sNotFound, sBadArg, sUnimpl),
			}},
		}},
		{"shared_data", []probeCase{
			{name: "cas_lifecycle", steps: []Step{
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("cas")), Out(0), Out(1), Out(2)).Want(sNotFound),
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("cas")), Str("v1"), Imm(0)).Want(sOK),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("cas")), Out(0), Out(1), Out(2)).Deref(0, 1).WantData("v1").
					Check(func(t testing.TB, r Result) {
						if r.Slots[2] == 0 {
							t.Errorf("host discrepancy: cas 0 after a set (0 means \"no check\")")
						}
					}),
				SetSlot(reqHeaders, 3, Slot(2)),
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("cas")), Str("v2"), Slot(3)).Want(sOK),
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("cas")), Str("v3"), Slot(3)).Want(sCAS),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("cas")), Out(0), Out(1), Out(2)).Deref(0, 1).WantData("v2").
					Check(func(t testing.TB, r Result) {
						if r.Slots[2] == r.Slots[3] {
							t.Errorf("host discrepancy: cas did not change on update")
						}
					}),
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("cas")), Str("v4"), Imm(0)).Want(sOK),
			}},
			{name: "root_then_stream", steps: []Step{
				Call(configure, abi.FuncSetSharedData, Str(key("root")), Str("from-root"), Imm(0)).Want(sOK),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("root")), Out(0), Out(1), Out(2)).Deref(0, 1).WantData("from-root"),
			}},
			{name: "empty_value", steps: []Step{
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("empty")), Str(""), Imm(0)).Want(sOK),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("empty")), Out(0), Out(1), Out(2)).Want(sOK).Check(slotIs(1, 0)),
			}},
			{name: "oob", steps: []Step{
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("oob")), Str("v"), Imm(0)).Want(sOK),
				Call(reqHeaders, abi.FuncGetSharedData, Imm(OOB), Imm(4), Out(0), Out(1), Out(2)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("oob")), Imm(OOB), Out(1), Out(2)).Want(sIMA),
				Call(reqHeaders, abi.FuncGetSharedData, Str(key("oob")), Out(0), Out(1), MemEnd(-2)).Want(sIMA),
				Call(reqHeaders, abi.FuncSetSharedData, Imm(OOB), Imm(4), Str("v"), Imm(0)).Want(sIMA),
				Call(reqHeaders, abi.FuncSetSharedData, Str(key("oob")), Imm(OOB), Imm(4), Imm(0)).Want(sIMA),
			}},
		}},
		{"shared_queue", []probeCase{
			{name: "lifecycle", steps: []Step{
				Call(configure, abi.FuncRegisterSharedQueue, Str(key("q")), Out(4)).Want(sOK),
				Call(reqHeaders, abi.FuncResolveSharedQueue, Str("conformance-vm"), Str(key("q")), Out(0)).Want(sOK),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Slot(4), Str("item1")).Want(sOK),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Slot(4), Str("item2")).Want(sOK),
				Call(reqHeaders, abi.FuncDequeueSharedQueue, Slot(4), Out(0), Out(1)).Deref(0, 1).WantData("item1"),
				Call(reqHeaders, abi.FuncDequeueSharedQueue, Slot(4), Out(0), Out(1)).Deref(0, 1).WantData("item2"),
				Call(reqHeaders, abi.FuncDequeueSharedQueue, Slot(4), Out(0), Out(1)).Want(sEmpty),
			}, check: func(t *testing.T, e *probeEnv) {
				reg, res := e.resultsOf(0), e.resultsOf(1)
				if len(reg) > 0 && len(res) > 0 && reg[0].Slots[4] != res[0].Slots[0] {
					t.Errorf("host discrepancy: resolve returned queue %d, register %d", res[0].Slots[0], reg[0].Slots[4])
				}
			}},
			{name: "register_twice_same_id", steps: []Step{
				Call(configure, abi.FuncRegisterSharedQueue, Str(key("q2")), Out(4)).Want(sOK),
				Call(reqHeaders, abi.FuncRegisterSharedQueue, Str(key("q2")), Out(0)).Want(sOK),
			}, check: func(t *testing.T, e *probeEnv) {
				a, b := e.resultsOf(0), e.resultsOf(1)
				if len(a) > 0 && len(b) > 0 && a[0].Slots[4] != b[0].Slots[0] {
					t.Errorf("host discrepancy: registering an existing queue returned %d, first %d", b[0].Slots[0], a[0].Slots[4])
				}
			}},
			{name: "on_queue_ready", steps: []Step{
				Call(configure, abi.FuncRegisterSharedQueue, Str(key("q3")), Out(4)).Want(sOK),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Slot(4), Str("ping")).Want(sOK),
				Call(PhaseQueueReady, abi.FuncDequeueSharedQueue, Slot(4), Out(0), Out(1)).Deref(0, 1).WantData("ping"),
			}},
			{name: "unknown", steps: []Step{
				Call(reqHeaders, abi.FuncResolveSharedQueue, Str("conformance-vm"), Str(key("nope")), Out(0)).Want(sNotFound),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Imm(0xdead), Str("x")).Want(sNotFound),
				Call(reqHeaders, abi.FuncDequeueSharedQueue, Imm(0xdead), Out(0), Out(1)).Want(sNotFound),
			}},
			{name: "oob", steps: []Step{
				Call(configure, abi.FuncRegisterSharedQueue, Str(key("q4")), Out(4)).Want(sOK),
				Call(reqHeaders, abi.FuncRegisterSharedQueue, Imm(OOB), Imm(4), Out(0)).Want(sIMA),
				Call(reqHeaders, abi.FuncRegisterSharedQueue, Str(key("q4")), Imm(OOB)).Want(sIMA),
				Call(reqHeaders, abi.FuncResolveSharedQueue, Imm(OOB), Imm(4), Str(key("q4")), Out(0)).Want(sIMA),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Slot(4), Imm(OOB), Imm(4)).Want(sIMA),
				Call(reqHeaders, abi.FuncEnqueueSharedQueue, Slot(4), Str("x")).Want(sOK),
				Call(reqHeaders, abi.FuncDequeueSharedQueue, Slot(4), Imm(OOB), Out(1)).Want(sIMA),
			}},
		}},
		{"metrics", metricCases(key)},
		{"legacy_0_1_and_0_2_0", []probeCase{
			{name: "continue_and_clear_route_cache", steps: []Step{
				Call(reqHeaders, abi.FuncContinueRequest).Want(sOK, sUnimpl),
				Call(respHeaders, abi.FuncContinueResponse).Want(sOK, sUnimpl),
				Call(reqHeaders, abi.FuncClearRouteCache).Want(sOK, sUnimpl),
			}},
			{name: "get_configuration", steps: []Step{
				Call(configure, abi.FuncGetConfiguration, Out(0), Out(1)).Deref(0, 1).Want(sOK, sUnimpl).Check(func(t testing.TB, r Result) {
					if r.Status == sOK && !strings.HasPrefix(string(r.Data), "CF01") {
						t.Errorf("host discrepancy: proxy_get_configuration returned %q, not the plugin configuration", r.Data)
					}
				}),
			}},
		}},
		{"every_import", []probeCase{
			{name: "zero_arguments_return_a_status", headersOnly: true, steps: func() []Step {
				var s []Step
				for _, n := range sortedHostFunctions() {
					var args []Arg
					for _, p := range abi.HostFunctions[n].Params {
						if p == abi.I64 {
							args = append(args, Imm64(0))
						} else {
							args = append(args, Imm(0))
						}
					}
					s = append(s, Call(reqHeaders, n, args...).Want(knownStatuses...))
				}
				return s
			}(), check: func(t *testing.T, e *probeEnv) {
				var unimpl []string
				for _, r := range e.sink.results() {
					if r.Status == sUnimpl && r.Step < len(sortedHostFunctions()) {
						unimpl = append(unimpl, sortedHostFunctions()[r.Step])
					}
				}
				t.Logf("UNIMPLEMENTED: %s", strings.Join(unimpl, ", "))
			}},
		}},
	}
}

func sortedHostFunctions() []string {
	names := make([]string, 0, len(abi.HostFunctions))
	for n := range abi.HostFunctions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// tickReadPath reports whether an on_tick invocation switched into the
// stream and read its :path (the from_on_tick_into_stream case).
func tickReadPath(e *probeEnv) bool {
	byInv := map[int][]Result{}
	for _, r := range e.sink.results() {
		if r.Step == 2 || r.Step == 3 {
			byInv[r.Inv] = append(byInv[r.Inv], r)
		}
	}
	for _, rs := range byInv {
		if len(rs) == 2 && rs[0].Status == sOK && rs[1].Status == sOK && string(rs[1].Data) == FixturePath {
			return true
		}
	}
	return false
}

func setBufferCases() []probeCase {
	n := uint32(len(FixtureRequestBody))
	c := func(name string, start, size uint32, data, want string) probeCase {
		return probeCase{name: name, steps: []Step{
			Call(reqBody, abi.FuncSetBufferBytes, Imm(0), Imm(start), Imm(size), Str(data)).Want(sOK),
			Call(reqBody, abi.FuncGetBufferBytes, Imm(0), Imm(0), Imm(0xffff), Out(0), Out(1)).Deref(0, 1).WantData(want),
		}, check: func(t *testing.T, e *probeEnv) {
			bodyIs(t, "request body", e.x.RequestBody, want)
		}}
	}
	return []probeCase{
		c("replace_all", 0, n, "NEW", "NEW"),
		c("prepend", 0, 0, "pre-", "pre-hello request"),
		c("append_at_size", n, 0, "-post", "hello request-post"),
		c("append_at_max", 0xffff_ffff, 0, "-post", "hello request-post"),
		c("inject", 5, 0, ",", "hello, request"),
		c("replace_middle", 6, 7, "world", "hello world"),
		{name: "response_body", steps: []Step{
			Call(respBody, abi.FuncSetBufferBytes, Imm(1), Imm(0), Imm(uint32(len(FixtureResponseBody))), Str("{}")).Want(sOK),
		}, check: func(t *testing.T, e *probeEnv) {
			bodyIs(t, "response body", e.x.ResponseBody, "{}")
		}},
		{name: "unknown_type", steps: []Step{
			Call(reqBody, abi.FuncSetBufferBytes, Imm(9), Imm(0), Imm(0), Str("x")).Want(sBadArg),
		}},
		{name: "wrong_context", steps: []Step{
			Call(reqHeaders, abi.FuncSetBufferBytes, Imm(0), Imm(0), Imm(0), Str("x")).Want(sNotFound),
			Call(reqHeaders, abi.FuncSetBufferBytes, Imm(1), Imm(0), Imm(0), Str("x")).Want(sNotFound),
			Call(configure, abi.FuncSetBufferBytes, Imm(0), Imm(0), Imm(0), Str("x")).Want(sNotFound),
		}},
		{name: "oob", steps: []Step{
			Call(reqBody, abi.FuncSetBufferBytes, Imm(0), Imm(0), Imm(0), Imm(OOB), Imm(4)).Want(sIMA),
			Call(reqBody, abi.FuncSetBufferBytes, Imm(0), Imm(0), Imm(0), MemEnd(-2), Imm(4)).Want(sIMA),
		}, check: func(t *testing.T, e *probeEnv) {
			bodyIs(t, "request body", e.x.RequestBody, FixtureRequestBody)
		}},
	}
}

func metricCases(key func(string) string) []probeCase {
	find := func(e *probeEnv, name string) (Metric, bool) {
		for _, m := range e.p.Metrics() {
			if strings.Contains(m.Name, name) {
				return m, true
			}
		}
		return Metric{}, false
	}
	return []probeCase{
		{name: "counter", steps: []Step{
			Call(reqHeaders, abi.FuncDefineMetric, Imm(0), Str(key("counter")), Out(4)).Want(sOK),
			Call(reqHeaders, abi.FuncIncrementMetric, Slot(4), Imm64(5)).Want(sOK),
			Call(reqHeaders, abi.FuncIncrementMetric, Slot(4), Imm64(2)).Want(sOK),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), Out(0)).Want(sOK).Check(slotIs(0, 7)),
			Call(reqHeaders, abi.FuncIncrementMetric, Slot(4), Imm64(-1)).Want(sBadArg),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), Out(0)).Want(sOK).Check(slotIs(0, 7)),
		}, check: func(t *testing.T, e *probeEnv) {
			if e.p.Metrics() == nil {
				t.Log("target exposes no metrics")
				return
			}
			m, ok := find(e, key("counter"))
			if !ok || m.Type != abi.MetricCounter || m.Value != 7 {
				t.Errorf("host discrepancy: exposed metric %+v (found %v), want a counter at 7", m, ok)
			}
		}},
		{name: "gauge", steps: []Step{
			Call(reqHeaders, abi.FuncDefineMetric, Imm(1), Str(key("gauge")), Out(4)).Want(sOK),
			Call(reqHeaders, abi.FuncRecordMetric, Slot(4), Imm64(42)).Want(sOK),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), Out(0)).Want(sOK).Check(slotIs(0, 42)),
			Call(reqHeaders, abi.FuncIncrementMetric, Slot(4), Imm64(-2)).Want(sOK),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), Out(0)).Want(sOK).Check(slotIs(0, 40)),
		}, check: func(t *testing.T, e *probeEnv) {
			if e.p.Metrics() == nil {
				return
			}
			if m, ok := find(e, key("gauge")); !ok || m.Type != abi.MetricGauge || m.Value != 40 {
				t.Errorf("host discrepancy: exposed metric %+v (found %v), want a gauge at 40", m, ok)
			}
		}},
		{name: "histogram", steps: []Step{
			Call(reqHeaders, abi.FuncDefineMetric, Imm(2), Str(key("histogram")), Out(4)).Want(sOK),
			Call(reqHeaders, abi.FuncRecordMetric, Slot(4), Imm64(7)).Want(sOK),
		}},
		{name: "define_twice_same_id", steps: []Step{
			Call(configure, abi.FuncDefineMetric, Imm(0), Str(key("twice")), Out(4)).Want(sOK),
			Call(reqHeaders, abi.FuncDefineMetric, Imm(0), Str(key("twice")), Out(0)).Want(sOK),
		}, check: func(t *testing.T, e *probeEnv) {
			a, b := e.resultsOf(0), e.resultsOf(1)
			if len(a) > 0 && len(b) > 0 && a[0].Slots[4] != b[0].Slots[0] {
				t.Errorf("host discrepancy: redefining a metric returned id %d, first %d (Envoy returns the same id)", b[0].Slots[0], a[0].Slots[4])
			}
		}},
		{name: "unknown_id", steps: []Step{
			Call(reqHeaders, abi.FuncRecordMetric, Imm(0xdead), Imm64(1)).Want(sNotFound),
			Call(reqHeaders, abi.FuncIncrementMetric, Imm(0xdead), Imm64(1)).Want(sNotFound),
			Call(reqHeaders, abi.FuncGetMetric, Imm(0xdead), Out(0)).Want(sNotFound),
		}},
		{name: "unknown_type", steps: []Step{
			Call(reqHeaders, abi.FuncDefineMetric, Imm(3), Str(key("bad")), Out(0)).Want(sBadArg),
		}},
		{name: "oob", steps: []Step{
			Call(reqHeaders, abi.FuncDefineMetric, Imm(0), Imm(OOB), Imm(4), Out(0)).Want(sIMA),
			Call(reqHeaders, abi.FuncDefineMetric, Imm(0), Str(key("oob")), Imm(OOB)).Want(sIMA),
			Call(reqHeaders, abi.FuncDefineMetric, Imm(0), Str(key("oob")), Out(4)).Want(sOK),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), Imm(OOB)).Want(sIMA),
			Call(reqHeaders, abi.FuncGetMetric, Slot(4), MemEnd(-4)).Want(sIMA),
		}},
	}
}
