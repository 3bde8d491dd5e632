//go:build !wasip1

package sdk

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

// These tests run the dispatcher natively (no host: host calls fail with
// errNotInHost). The end-to-end behaviour in the real host is covered by
// sdk_test.go through sdktest.

func newDispatcher(f func(uint32) RootContext) *dispatcher {
	return &dispatcher{
		newRoot: f,
		roots:   map[uint32]RootContext{},

		callouts: map[uint32]callout{},
	}
}

type testRoot struct {
	DefaultRootContext
	started  bool
	panicVM  bool
	newHTTP  func(id uint32) HTTPContext
	gotTicks int
}

func (r *testRoot) OnVMStart(int) bool {
	if r.panicVM {
		panic("vm start")
	}
	return true
}

func (r *testRoot) OnPluginStart(int) bool { r.started = true; return true }
func (r *testRoot) OnTick()                { r.gotTicks++ }
func (r *testRoot) NewHTTPContext(id uint32) HTTPContext {
	if r.newHTTP == nil {
		return nil
	}
	return r.newHTTP(id)
}

type testHTTP struct {
	DefaultHTTPContext
	panicHeaders bool
	calls        int
	done         int
}

func (c *testHTTP) OnHTTPRequestHeaders(int, bool) Action {
	c.calls++
	if c.panicHeaders {
		panic("boom")
	}
	return ActionPause
}

func (c *testHTTP) OnHTTPStreamDone() { c.done++ }

func TestRootLifecycle(t *testing.T) {
	r := &testRoot{}
	d := newDispatcher(func(uint32) RootContext { return r })
	d.onContextCreate(1, 0)
	if !d.onVMStart(1, 0) || !d.onConfigure(1, 2) || !r.started {
		t.Fatal("root start")
	}
	d.onTick(1)
	if r.gotTicks != 1 {
		t.Fatal("tick not delivered")
	}
	if !d.onDone(1) {
		t.Fatal("on_done")
	}
	d.onDelete(1)
	if len(d.roots) != 0 {
		t.Fatal("root not deleted")
	}
}

func TestRootCreatedLazily(t *testing.T) {
	r := &testRoot{}
	d := newDispatcher(func(uint32) RootContext { return r })
	if !d.onVMStart(7, 0) || d.roots[7] != r {
		t.Fatal("a host that skips proxy_on_context_create for the root still gets one")
	}
}

func TestNoRootContextRejects(t *testing.T) {
	d := newDispatcher(nil)
	d.onContextCreate(1, 0)
	if d.onVMStart(1, 0) {
		t.Fatal("a plugin that registered no root context must be rejected")
	}
}

func TestRootPanicReportsFalse(t *testing.T) {
	d := newDispatcher(func(uint32) RootContext { return &testRoot{panicVM: true} })
	if d.onVMStart(1, 0) {
		t.Fatal("a panic in OnVMStart must reject the instance")
	}
	d = newDispatcher(func(uint32) RootContext { panic("factory") })
	if d.onVMStart(1, 0) {
		t.Fatal("a panic in the root factory must reject the instance")
	}
}

func TestHTTPDispatchAndPanic(t *testing.T) {
	ok, bad := &testHTTP{}, &testHTTP{panicHeaders: true}
	r := &testRoot{newHTTP: func(id uint32) HTTPContext {
		if id == 2 {
			return ok
		}
		return bad
	}}
	d := newDispatcher(func(uint32) RootContext { return r })
	d.onContextCreate(1, 0)
	d.onContextCreate(2, 1)
	d.onContextCreate(3, 1)
	if a := Action(answer(d.httpCall(2, cbRequestHeaders, 1, true))); a != ActionPause || ok.calls != 1 {
		t.Fatalf("healthy context: %v, %d calls", a, ok.calls)
	}
	if a := Action(answer(d.httpCall(3, cbRequestHeaders, 1, true))); a != ActionPause {
		t.Fatalf("a panicking callback must pause (after answering 500), got %v", a)
	}
	if d.https.get(3).state != httpFailed {
		t.Fatal("context not marked failed")
	}
	if a := Action(answer(d.httpCall(3, cbRequestHeaders, 1, true))); a != ActionContinue || bad.calls != 1 {
		t.Fatalf("a failed context's code must not run again: %v, %d calls", a, bad.calls)
	}
	d.onLog(3)
	d.onLog(2)
	if ok.done != 1 || bad.done != 1 {
		t.Fatal("OnHTTPStreamDone not called from on_log")
	}
	if !d.onDone(2) {
		t.Fatal("on_done of an HTTP context")
	}
	d.onDelete(2)
	d.onDelete(3)
	if d.https.len() != 0 {
		t.Fatal("contexts not deleted")
	}
	if d.current != 0 {
		t.Fatal("current context not reset after a callback")
	}
}

func TestNewHTTPContextPanicAnswersAtFirstCallback(t *testing.T) {
	r := &testRoot{newHTTP: func(uint32) HTTPContext { panic("create") }}
	d := newDispatcher(func(uint32) RootContext { return r })
	d.onContextCreate(2, 1)
	if d.https.get(2).state != httpPanicPending {
		t.Fatal("panic in NewHTTPContext not recorded")
	}
	if a := Action(answer(d.httpCall(2, cbRequestHeaders, 1, true))); a != ActionPause {
		t.Fatalf("got %v, want PAUSE with a 500", a)
	}
}

func TestNilHTTPContextContinues(t *testing.T) {
	d := newDispatcher(func(uint32) RootContext { return &testRoot{} })
	d.onContextCreate(2, 1)
	if a := Action(answer(d.httpCall(2, cbResponseHeaders, 1, true))); a != ActionContinue {
		t.Fatal(a)
	}
	if a := Action(answer(d.httpCall(99, cbResponseHeaders, 1, true))); a != ActionContinue {
		t.Fatal("unknown context")
	}
}

func TestCallouts(t *testing.T) {
	c := &testHTTP{}
	d := newDispatcher(func(uint32) RootContext { return &testRoot{newHTTP: func(uint32) HTTPContext { return c }} })
	d.onContextCreate(1, 0)
	d.onContextCreate(2, 1)
	d.current = 2
	d.addCallout(10, func(int, int, int) {})
	d.current = 0
	d.addCallout(11, func(int, int, int) {})
	if d.callouts[10].contextID != 2 || d.callouts[11].contextID != 1 {
		t.Fatalf("callouts %+v", d.callouts)
	}
	d.onDelete(2)
	if _, ok := d.callouts[10]; ok {
		t.Fatal("callout of a deleted context kept")
	}
	called := false
	d.callouts[11] = callout{contextID: 1, cb: func(h, b, tr int) { called = h == 1 && b == 2 && tr == 3 }}
	d.onHTTPCallResponse(1, 11, 1, 2, 3)
	if !called {
		t.Fatal("root callout callback not called")
	}
	d.callouts[12] = callout{contextID: 1, cb: func(int, int, int) { panic("cb") }}
	d.onHTTPCallResponse(1, 12, 0, 0, 0) // recovered
}

func TestAllocateAndTake(t *testing.T) {
	defer releasePins()
	p := allocate(10)
	if len(pins) != 1 || p != addressOf(pins[0]) {
		t.Fatal("allocation not pinned")
	}
	copy(pins[0], "0123456789")
	b, err := takeResult(p, 4)
	if err != nil || string(b) != "0123" || cap(b) != 4 {
		t.Fatalf("%q %v", b, err)
	}
	if len(pins) != 0 {
		t.Fatal("taken allocation still pinned")
	}
	if _, err := takeResult(p, 4); !errors.Is(err, errForeignMemory) {
		t.Fatalf("foreign pointer: %v", err)
	}
	if b, err := takeResult(0, 0); b != nil || err != nil {
		t.Fatal("empty result")
	}
	allocate(0)
	allocate(3)
	releasePins()
	if len(pins) != 0 {
		t.Fatal("releasePins")
	}
}

func TestDecodePairs(t *testing.T) {
	want := [][2]string{{":status", "200"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"empty", ""}}
	got, err := decodePairs("f", abi.EncodeMap(want))
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q %v", got, err)
	}
	if got, err := decodePairs("f", nil); err != nil || len(got) != 0 {
		t.Fatal("empty map")
	}
	if _, err := decodePairs("f", []byte{9, 0, 0, 0, 1}); !errors.Is(err, ErrSerializationFailure) {
		t.Fatalf("malformed map: %v", err)
	}
}

func TestEncodePath(t *testing.T) {
	if got := string(encodePath([]string{"request", "path"})); got != "request\x00path" {
		t.Fatalf("%q", got)
	}
	if got := string(encodePath(nil)); got != "" {
		t.Fatalf("%q", got)
	}
}

func TestErrors(t *testing.T) {
	if statusErr("f", 0) != nil {
		t.Fatal("OK is not an error")
	}
	if err := statusErr("f", uint32(abi.StatusNotFound)); err != ErrNotFound {
		t.Fatalf("NOT_FOUND is returned bare, got %#v", err)
	}
	err := statusErr("proxy_get_buffer_bytes", uint32(abi.StatusBadArgument))
	var hce *HostCallError
	if !errors.Is(err, ErrBadArgument) || !errors.As(err, &hce) || hce.Func != "proxy_get_buffer_bytes" {
		t.Fatalf("%#v", err)
	}
	if !strings.HasPrefix(err.Error(), "sdk: proxy_get_buffer_bytes: BAD_ARGUMENT") {
		t.Fatal(err)
	}
	// Outside a wasip1 build every host call explains how to run a plugin.
	_, err = GetHTTPRequestHeader("x")
	if !errors.Is(err, ErrUnimplemented) || !strings.Contains(err.Error(), "GOOS=wasip1") {
		t.Fatalf("native host call: %v", err)
	}
}

func TestHTTPTable(t *testing.T) {
	var tb httpTable
	// Sequential ids, then ids that collide with live ones (id+256), then
	// the id 0 the host never uses.
	for id := uint32(1); id <= 300; id++ {
		tb.put(id, httpEntry{rootID: id})
	}
	for id := uint32(257); id <= 300; id++ {
		if tb.spill[id] == nil {
			t.Fatalf("id %d: want it in the spill map (its slot is taken by %d)", id, id-256)
		}
	}
	if tb.len() != 300 {
		t.Fatalf("len = %d, want 300", tb.len())
	}
	for id := uint32(1); id <= 300; id++ {
		if e := tb.get(id); e == nil || e.rootID != id {
			t.Fatalf("get(%d) = %+v", id, e)
		}
	}
	if tb.get(0) != nil || tb.get(301) != nil || tb.get(513) != nil {
		t.Fatal("get of an absent id returned an entry")
	}
	tb.put(5, httpEntry{rootID: 55}) // replace in place
	if tb.get(5).rootID != 55 || tb.len() != 300 {
		t.Fatalf("replace: %+v, len %d", tb.get(5), tb.len())
	}
	for id := uint32(1); id <= 300; id++ {
		if !tb.delete(id) {
			t.Fatalf("delete(%d) = false", id)
		}
		if tb.delete(id) {
			t.Fatalf("second delete(%d) = true", id)
		}
	}
	if tb.len() != 0 || len(tb.spill) != 0 {
		t.Fatalf("after deleting everything: len %d, spill %d", tb.len(), len(tb.spill))
	}
	tb.put(0, httpEntry{rootID: 9}) // id 0 must not look like a free slot's id
	if e := tb.get(0); e == nil || e.rootID != 9 {
		t.Fatalf("id 0: %+v", e)
	}
	if tb.slots[0].id != 0 || tb.get(256) != nil {
		t.Fatal("id 0 was stored in a slot")
	}
}

// TestHTTPContextsCreatedLazily: wasmgate announces no HTTP context
// (abi.HookLazyContexts); the first callback of a stream creates it under
// the root, and a root context id never becomes an HTTP one.
func TestHTTPContextsCreatedLazily(t *testing.T) {
	var created []uint32
	r := &testRoot{newHTTP: func(id uint32) HTTPContext { created = append(created, id); return &testHTTP{} }}
	d := newDispatcher(func(uint32) RootContext { return r })
	d.onContextCreate(1, 0)
	if a := Action(answer(d.httpCall(5, cbRequestHeaders, 1, true))); a != ActionPause {
		t.Fatalf("first callback of an unannounced context: %v", a)
	}
	if e := d.https.get(5); e == nil || e.rootID != 1 || e.ctx.(*testHTTP).calls != 1 {
		t.Fatalf("context 5 not created under root 1: %+v", e)
	}
	d.httpCall(5, cbRequestHeaders, 1, true)
	d.onLog(6) // a stream whose only callback is the end
	if !reflect.DeepEqual(created, []uint32{5, 6}) {
		t.Fatalf("NewHTTPContext calls: %v, want [5 6]", created)
	}
	if a := Action(answer(d.httpCall(1, cbRequestHeaders, 1, true))); a != ActionContinue || d.https.get(1) != nil {
		t.Fatal("the root context id became an HTTP context")
	}
	d.onDelete(5)
	d.onDelete(6)
	if d.https.len() != 0 || len(d.roots) != 1 {
		t.Fatalf("after deletes: %d HTTP contexts, %d roots", d.https.len(), len(d.roots))
	}
}

// TestLazyNewHTTPContextPanic: with lazy contexts NewHTTPContext runs in
// the stream's first callback; a panic there answers that callback (a 500,
// PAUSE) and no callback of the stream runs plugin code afterwards.
func TestLazyNewHTTPContextPanic(t *testing.T) {
	calls := 0
	r := &testRoot{newHTTP: func(uint32) HTTPContext { calls++; panic("create") }}
	d := newDispatcher(func(uint32) RootContext { return r })
	d.onContextCreate(1, 0)
	if a := Action(answer(d.httpCall(4, cbRequestHeaders, 1, true))); a != ActionPause {
		t.Fatalf("got %v, want PAUSE with a 500", a)
	}
	if e := d.https.get(4); e == nil || e.state != httpFailed {
		t.Fatalf("context 4 not failed: %+v", e)
	}
	if a := Action(answer(d.httpCall(4, cbResponseHeaders, 1, true))); a != ActionContinue || calls != 1 {
		t.Fatalf("after the failure: %v, %d NewHTTPContext calls", a, calls)
	}
	if d.current != 0 {
		t.Fatal("current context not reset after a panic")
	}
}

// recordingHTTP records which callback ran with which arguments.
type recordingHTTP struct{ got string }

func (c *recordingHTTP) OnHTTPRequestHeaders(n int, eos bool) Action {
	c.got = fmt.Sprint("RequestHeaders ", n, eos)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPRequestBody(n int, eos bool) Action {
	c.got = fmt.Sprint("RequestBody ", n, eos)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPRequestTrailers(n int) Action {
	c.got = fmt.Sprint("RequestTrailers ", n)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPResponseHeaders(n int, eos bool) Action {
	c.got = fmt.Sprint("ResponseHeaders ", n, eos)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPResponseBody(n int, eos bool) Action {
	c.got = fmt.Sprint("ResponseBody ", n, eos)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPResponseTrailers(n int) Action {
	c.got = fmt.Sprint("ResponseTrailers ", n)
	return ActionContinue
}
func (c *recordingHTTP) OnHTTPStreamDone() {}

func TestHTTPCallbacksReachTheirMethod(t *testing.T) {
	c := &recordingHTTP{}
	d := newDispatcher(func(uint32) RootContext { return &testRoot{newHTTP: func(uint32) HTTPContext { return c }} })
	d.onContextCreate(1, 0)
	for _, tc := range []struct {
		cb   httpCallback
		size int
		eos  bool
		want string
	}{
		{cbRequestHeaders, 3, false, "RequestHeaders 3 false"},
		{cbRequestBody, 10, true, "RequestBody 10 true"},
		{cbRequestTrailers, 2, false, "RequestTrailers 2"},
		{cbResponseHeaders, 4, true, "ResponseHeaders 4 true"},
		{cbResponseBody, 0, false, "ResponseBody 0 false"},
		{cbResponseTrailers, 1, false, "ResponseTrailers 1"},
	} {
		c.got = ""
		if a := Action(answer(d.httpCall(7, tc.cb, tc.size, tc.eos))); a != ActionContinue || c.got != tc.want {
			t.Errorf("%s: ran %q (%v), want %q", httpCallbackNames[tc.cb], c.got, a, tc.want)
		}
	}
}

// TestDeleteRingTakenInBatches: ids the host puts in the delete ring are
// deleted at a callback once deleteBatch of them wait, at once when a new
// context's table slot is held by an ended one, and on a proxy_on_delete
// (the host's call when the ring is full).
func TestDeleteRingTakenInBatches(t *testing.T) {
	d := newDispatcher(func(uint32) RootContext { return &testRoot{newHTTP: func(uint32) HTTPContext { return &testHTTP{} }} })
	d.deletes.size = deleteRingSize
	d.onContextCreate(1, 0)
	push := func(id uint32) {
		d.deletes.ids[d.deletes.head%deleteRingSize] = id
		d.deletes.head++
	}
	const n = deleteBatch + 2
	for id := uint32(2); id < 2+n; id++ {
		d.httpCall(id, cbRequestHeaders, 1, true)
	}
	for id := uint32(2); id < 2+deleteBatch-1; id++ {
		push(id)
	}
	d.httpCall(2+n-1, cbResponseHeaders, 1, true)
	if d.https.len() != n || d.deletes.tail != 0 {
		t.Fatalf("%d ended contexts, fewer than a batch: deleted (%d left, tail %d)", deleteBatch-1, d.https.len(), d.deletes.tail)
	}
	push(2 + deleteBatch - 1)
	d.httpCall(2+n-1, cbResponseHeaders, 1, true)
	if d.https.len() != n-deleteBatch || d.https.get(2) != nil || d.deletes.tail != deleteBatch {
		t.Fatalf("after a batch: %d contexts, tail %d", d.https.len(), d.deletes.tail)
	}
	push(2 + n - 2)
	d.onDelete(2 + n - 1)
	if d.https.len() != 0 || d.deletes.tail != deleteBatch+1 {
		t.Fatalf("after proxy_on_delete: %d contexts, tail %d", d.https.len(), d.deletes.tail)
	}

	// A new context whose slot an ended one holds: the ring is drained,
	// nothing spills.
	old := uint32(1000)
	d.httpCall(old, cbRequestHeaders, 1, true)
	push(old)
	d.httpCall(old+httpSlots, cbRequestHeaders, 1, true)
	if d.https.get(old) != nil || d.https.get(old+httpSlots) == nil || d.https.spill != nil {
		t.Fatalf("slot of an ended context: old kept %v, spilled %v", d.https.get(old) != nil, d.https.spill != nil)
	}
	// A live one holds it: the new one spills.
	d.httpCall(old+2*httpSlots, cbRequestHeaders, 1, true)
	if d.https.get(old+httpSlots) == nil || d.https.get(old+2*httpSlots) == nil || len(d.https.spill) != 1 {
		t.Fatal("a live context lost its slot")
	}

	// The counters wrap.
	d.deletes.head, d.deletes.tail = ^uint32(0), ^uint32(0)
	for id := uint32(3000); id < 3000+deleteBatch; id++ {
		d.httpCall(id, cbRequestHeaders, 1, true)
		push(id)
	}
	d.httpCall(4000, cbRequestHeaders, 1, true)
	if d.https.get(3000) != nil || d.deletes.tail != deleteBatch-1 {
		t.Fatalf("across the wrap: context 3000 kept, tail %d", d.deletes.tail)
	}
}

// sharingRoot shares one HTTP context (HTTPContextSharer).
type sharingRoot struct {
	testRoot
	shared *testHTTP
}

func (r *sharingRoot) SharedHTTPContext() HTTPContext { return r.shared }

// TestSharedHTTPContext: with HTTPContextSharer every request runs on the
// shared context, without NewHTTPContext or a table entry; a request
// whose callback panicked is answered and not called again (but told
// OnHTTPStreamDone), and its entry goes through the delete ring; a second
// root context ends the sharing.
func TestSharedHTTPContext(t *testing.T) {
	shared := &testHTTP{}
	r := &sharingRoot{shared: shared}
	r.newHTTP = func(uint32) HTTPContext { t.Error("NewHTTPContext called with a shared context"); return nil }
	d := newDispatcher(func(uint32) RootContext { return r })
	d.deletes.size = deleteRingSize
	d.onContextCreate(1, 0)
	if !d.onVMStart(1, 0) || !d.onConfigure(1, 0) || d.shared != HTTPContext(shared) {
		t.Fatal("the shared context was not taken after OnPluginStart")
	}
	for id := uint32(2); id < 6; id++ {
		if a := Action(answer(d.httpCall(id, cbRequestHeaders, 1, true))); a != ActionPause {
			t.Fatalf("request %d: %v", id, a)
		}
	}
	if shared.calls != 4 || d.https.len() != 0 {
		t.Fatalf("%d calls on the shared context, %d entries", shared.calls, d.https.len())
	}
	d.onLog(3)
	if shared.done != 1 {
		t.Fatal("OnHTTPStreamDone not delivered to the shared context")
	}

	shared.panicHeaders = true
	if a := Action(answer(d.httpCall(6, cbRequestHeaders, 1, true))); a != ActionPause {
		t.Fatalf("after a panic: %v", a)
	}
	shared.panicHeaders = false
	calls := shared.calls
	if a := Action(answer(d.httpCall(6, cbRequestHeaders, 1, true))); a != ActionContinue || shared.calls != calls {
		t.Fatal("a failed request's callback ran again")
	}
	if d.httpCall(7, cbRequestHeaders, 1, true); shared.calls != calls+1 {
		t.Fatal("another request was not run after one failed")
	}
	d.onLog(6)
	if shared.done != 2 {
		t.Fatal("the failed request was not told OnHTTPStreamDone")
	}
	for id := uint32(2); id < 2+deleteBatch; id++ {
		d.deletes.ids[d.deletes.head%deleteRingSize] = id
		d.deletes.head++
	}
	d.httpCall(100, cbRequestHeaders, 1, true)
	if d.https.len() != 0 || d.deletes.tail != d.deletes.head {
		t.Fatalf("after the ring drained: %d entries", d.https.len())
	}

	// A host that announces HTTP contexts (proxy_on_context_create) gets
	// the shared one for them too.
	d.onContextCreate(200, 1)
	d.httpCall(200, cbRequestHeaders, 1, true)
	if e := d.https.get(200); e == nil || e.ctx != HTTPContext(shared) || shared.calls != calls+3 {
		t.Fatal("an announced context did not run on the shared one")
	}

	d.onContextCreate(50, 0)
	if d.shared != nil {
		t.Fatal("a second root context kept the sharing")
	}
}
