package sdk

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/wasmgate/wasmgate/abi"
)

// The callback side of the ABI: context ids to contexts, panic recovery,
// HTTP callouts. The //go:wasmexport shims (exports_wasip1.go) call these
// methods; keeping them in a build-independent file lets them be vetted
// and unit tested on any platform.

type httpState uint8

const (
	httpOK           httpState = iota
	httpPanicPending           // NewHTTPContext panicked: answer 500 at the first callback
	httpFailed                 // a callback panicked: user code is no longer called
	httpUncreated              // announced by its first callback: NewHTTPContext runs in it
)

type httpEntry struct {
	ctx    HTTPContext // nil: the root context does not handle HTTP
	rootID uint32
	state  httpState
}

type callout struct {
	contextID uint32
	cb        func(numHeaders, bodySize, numTrailers int)
}

type dispatcher struct {
	newRoot  func(contextID uint32) RootContext
	roots    map[uint32]RootContext
	https    httpTable
	callouts map[uint32]callout
	// The last root context looked up: a VM almost always has one.
	lastRootID  uint32
	lastRootCtx RootContext
	current     uint32 // context of the running callback, 0 between callbacks
	lastRoot    uint32
	// The running HTTP callback, for httpRecover: inHTTP is set while the
	// plugin's code runs.
	callback httpCallback
	inHTTP   bool
	// deletes is where the host puts the ids of ended HTTP streams
	// (abi.ExportDeleteRing).
	deletes deleteRing
	// shared is the HTTP context every request runs on, from the one root
	// context's SharedHTTPContext (HTTPContextSharer); nil otherwise.
	shared HTTPContext
}

// deleteRing is the ring of abi.ExportDeleteRing; its fields are laid out
// as the ABI says (four-byte fields, no padding).
type deleteRing struct {
	head uint32 // written by the host
	tail uint32
	size uint32
	ids  [deleteRingSize]uint32
}

// deleteRingSize is the ring's slots: ended streams wait there until the
// plugin's next callback, and a full ring makes the host call
// proxy_on_delete, so it holds more than an instance's streams usually end
// between two of its calls.
const deleteRingSize = 256

// deleteBatch is how many ended streams wait in the ring before a
// callback deletes them: one pass over several ids costs less than a call
// per id (a call in a Wasm guest costs hundreds of instructions), and a
// context that has ended is never looked up again. A new context whose
// table slot an ended one still holds drains the ring at once (claimSlow).
const deleteBatch = 16

// takeDeletes deletes the contexts whose ids the host put in the ring
// (deleteHTTP, inlined).
func (d *dispatcher) takeDeletes() {
	r := &d.deletes
	if d.https.n == 0 {
		r.tail = r.head // nothing to delete (a shared HTTP context)
		return
	}
	for r.tail != r.head {
		id := r.ids[r.tail&(deleteRingSize-1)]
		r.tail++
		if d.https.delete(id) && len(d.callouts) > 0 {
			d.dropCallouts(id)
		}
	}
}

// claimSlow returns a new entry for HTTP context id when its slot is
// taken (httpTable.claim failed). The slot may hold a context that ended
// and waits in the delete ring: the ring is drained before the id spills
// to the table's map.
func (d *dispatcher) claimSlow(id uint32) *httpEntry {
	if d.deletes.head != d.deletes.tail {
		d.takeDeletes()
	}
	return d.https.entry(id)
}

var state = dispatcher{
	roots:    map[uint32]RootContext{},
	callouts: map[uint32]callout{},
	deletes:  deleteRing{size: deleteRingSize},
}

// Answer given to a request whose plugin code panicked.
const panicDetails = "wasmgate_plugin_panic"

var (
	panicHeaders = [][2]string{{"content-type", "application/json"}}
	panicBody    = []byte(`{"message":"plugin panic"}`)
)

const errNoRoot = "sdk: no root context: call sdk.SetNewRootContext from an init function of package main (main is never called under -buildmode=c-shared)"

// exit ends a top-level callback.
func (d *dispatcher) exit() {
	d.current = 0
	releasePins()
}

func (d *dispatcher) createRoot(id uint32) (r RootContext) {
	d.lastRoot = id
	d.lastRootID, d.lastRootCtx = 0, nil
	d.shared = nil // requests are no longer all the one root's
	if d.newRoot == nil {
		d.roots[id] = nil
		return nil
	}
	defer func() {
		if p := recover(); p != nil {
			d.rootPanic("the root context factory", p)
			d.roots[id] = nil
			r = nil
		}
	}()
	r = d.newRoot(id)
	d.roots[id] = r
	return r
}

// root returns the root context id, creating it when the host did not
// announce it with proxy_on_context_create (older hosts).
func (d *dispatcher) root(id uint32) RootContext {
	if id == d.lastRootID && id != 0 {
		return d.lastRootCtx
	}
	r, ok := d.roots[id]
	if !ok {
		r = d.createRoot(id)
	}
	d.lastRootID, d.lastRootCtx = id, r
	return r
}

func (d *dispatcher) onContextCreate(id, parentID uint32) {
	defer d.exit()
	if parentID == 0 {
		refreshLogLevel()
		d.createRoot(id)
		return
	}
	d.newHTTP(id, parentID)
}

// newHTTP creates HTTP context id under root context parentID, for a host
// that announced it with proxy_on_context_create.
func (d *dispatcher) newHTTP(id, parentID uint32) *httpEntry {
	r := d.root(parentID)
	e := httpEntry{rootID: parentID}
	if d.shared != nil {
		// A host that announces every context (no lazy contexts) still
		// gets the shared one.
		e.ctx = d.shared
	} else if r != nil {
		d.current = id
		func() {
			defer func() {
				if p := recover(); p != nil {
					logPanic("NewHTTPContext", p)
					e.state = httpPanicPending
				}
			}()
			e.ctx = r.NewHTTPContext(id)
		}()
	}
	return d.https.put(id, e)
}

// lazyParent returns the root context of a stream the host did not
// announce. The SDK declares abi.HookLazyContexts, so wasmgate calls no
// proxy_on_context_create for HTTP streams: the first callback of a
// stream creates its context, under the VM's (last created) root context.
// ok is false for an id that is not an HTTP stream's.
func (d *dispatcher) lazyParent(id uint32) (parentID uint32, ok bool) {
	if id == 0 || d.lastRoot == 0 || id == d.lastRoot {
		return 0, false
	}
	if len(d.roots) > 1 {
		if _, ok := d.roots[id]; ok {
			return 0, false // a root context is not an HTTP one
		}
	}
	return d.lastRoot, true
}

// http returns HTTP context id, creating it when the host did not
// announce it (see lazyParent); nil when id is not an HTTP context.
func (d *dispatcher) http(id uint32) *httpEntry {
	if e := d.https.get(id); e != nil {
		return e
	}
	parentID, ok := d.lazyParent(id)
	if !ok {
		return nil
	}
	return d.newHTTP(id, parentID)
}

// rootCall runs a root callback that reports success; a missing root
// context or a panic reports false.
func (d *dispatcher) rootCall(id uint32, where string, fn func(RootContext) bool) (ok bool) {
	defer d.exit()
	refreshLogLevel()
	r := d.root(id)
	if r == nil {
		logAlways(abi.LogCritical, errNoRoot)
		return false
	}
	d.current = id
	defer func() {
		if p := recover(); p != nil {
			d.rootPanic(where, p)
			ok = false
		}
	}()
	return fn(r)
}

func (d *dispatcher) onVMStart(id uint32, size int) bool {
	return d.rootCall(id, "OnVMStart", func(r RootContext) bool { return r.OnVMStart(size) })
}

func (d *dispatcher) onConfigure(id uint32, size int) bool {
	return d.rootCall(id, "OnPluginStart", func(r RootContext) bool {
		if !r.OnPluginStart(size) {
			return false
		}
		if s, ok := r.(HTTPContextSharer); ok && len(d.roots) == 1 {
			d.shared = s.SharedHTTPContext()
		}
		return true
	})
}

func (d *dispatcher) onTick(id uint32) {
	d.rootCall(id, "OnTick", func(r RootContext) bool { r.OnTick(); return true })
}

func (d *dispatcher) onQueueReady(id, queueID uint32) {
	d.rootCall(id, "OnQueueReady", func(r RootContext) bool { r.OnQueueReady(queueID); return true })
}

func (d *dispatcher) onDone(id uint32) bool {
	if d.https.get(id) != nil {
		return true
	}
	return d.rootCall(id, "OnPluginDone", func(r RootContext) bool { return r.OnPluginDone() })
}

func (d *dispatcher) onLog(id uint32) {
	defer d.exit()
	c := d.shared
	if e := d.https.get(id); e != nil || c == nil {
		if e = d.http(id); e == nil {
			return
		}
		c = e.ctx
	}
	if c == nil {
		return
	}
	d.current = id
	defer func() {
		if p := recover(); p != nil {
			logPanic("OnHTTPStreamDone", p)
		}
	}()
	c.OnHTTPStreamDone()
}

func (d *dispatcher) onDelete(id uint32) {
	if d.deletes.head != d.deletes.tail {
		d.takeDeletes()
	}
	if d.deleteHTTP(id) {
		d.exit()
		return
	}
	if id == d.lastRootID {
		d.lastRootID, d.lastRootCtx = 0, nil
	}
	if _, ok := d.roots[id]; ok {
		d.shared = nil
	}
	delete(d.roots, id)
	d.exit()
}

// deleteHTTP deletes HTTP context id, reporting whether there was one.
func (d *dispatcher) deleteHTTP(id uint32) bool {
	if !d.https.delete(id) {
		return false
	}
	if len(d.callouts) > 0 {
		d.dropCallouts(id)
	}
	return true
}

// dropCallouts forgets the HTTP callouts of deleted context id.
func (d *dispatcher) dropCallouts(id uint32) {
	for token, c := range d.callouts {
		if c.contextID == id {
			delete(d.callouts, token)
		}
	}
}

// httpCallback names the HTTPContext method an HTTP export runs.
type httpCallback uint8

const (
	cbRequestHeaders httpCallback = iota
	cbRequestBody
	cbRequestTrailers
	cbResponseHeaders
	cbResponseBody
	cbResponseTrailers
)

var httpCallbackNames = [...]string{
	cbRequestHeaders:   "OnHTTPRequestHeaders",
	cbRequestBody:      "OnHTTPRequestBody",
	cbRequestTrailers:  "OnHTTPRequestTrailers",
	cbResponseHeaders:  "OnHTTPResponseHeaders",
	cbResponseBody:     "OnHTTPResponseBody",
	cbResponseTrailers: "OnHTTPResponseTrailers",
}

// actionUnset is httpCall's answer while the callback runs, so after a
// panic (see answer).
const actionUnset = ^Action(0)

// answer is the action an HTTP export returns for httpCall's a: PAUSE
// after a panic, which httpRecover answered with a 500.
func answer(a Action) uint32 {
	if a == actionUnset {
		return uint32(ActionPause)
	}
	return uint32(a)
}

// httpCall runs HTTP callback cb of context id with its two arguments (a
// size and end of stream); the export returns answer(a). This is the path
// of every request through a plugin, and in a Wasm guest every call,
// closure and defer costs, mostly in instruction cache misses: so no
// closures, the context of a stream's first callback created here (lazy
// contexts, see lazyParent), and one deferred call without arguments (a
// deferred call with arguments costs a closure, about a thousand
// instructions per request) that recovers only after a panic.
func (d *dispatcher) httpCall(id uint32, cb httpCallback, size int, eos bool) (a Action) {
	if d.deletes.head-d.deletes.tail >= deleteBatch {
		d.takeDeletes()
	}
	// With a shared context and no entries (only a request whose callback
	// panicked has one then), there is nothing to look up.
	c := d.shared
	var e *httpEntry
	if c == nil || d.https.n != 0 {
		e = d.https.get(id)
		if e == nil && c == nil {
			// A stream's first callback (lazy contexts): the usual case.
			parentID, ok := d.lazyParent(id)
			if !ok {
				d.exit()
				return ActionContinue
			}
			if e = d.https.claim(id); e == nil {
				e = d.claimSlow(id)
			}
			e.rootID, e.state = parentID, httpUncreated
		} else if e != nil && e.state != httpOK {
			if a, run := d.httpNotOK(id, e); !run {
				d.exit()
				return a
			}
		}
	}
	d.current, d.callback, d.inHTTP = id, cb, true
	a = actionUnset
	httpDispatcher = d
	defer httpRecover()
	if e != nil {
		if e.state == httpUncreated {
			r := d.lastRootCtx
			if e.rootID != d.lastRootID || e.rootID == 0 {
				r = d.root(e.rootID)
			}
			if r != nil {
				e.ctx = r.NewHTTPContext(id)
			}
			e.state = httpOK
		}
		c = e.ctx
	}
	// a stays actionUnset until the callback returns: a panic returns it.
	act := ActionContinue
	if c != nil {
		switch cb {
		case cbRequestHeaders:
			act = c.OnHTTPRequestHeaders(size, eos)
		case cbRequestBody:
			act = c.OnHTTPRequestBody(size, eos)
		case cbRequestTrailers:
			act = c.OnHTTPRequestTrailers(size)
		case cbResponseHeaders:
			act = c.OnHTTPResponseHeaders(size, eos)
		case cbResponseBody:
			act = c.OnHTTPResponseBody(size, eos)
		case cbResponseTrailers:
			act = c.OnHTTPResponseTrailers(size)
		}
	}
	d.inHTTP = false
	return act
}

// httpShared starts callback cb of context id on the shared HTTP context
// and returns it, when nothing needs looking up (HTTPContextSharer, and
// no request with a failed callback pending deletion); nil otherwise, and
// httpCall runs the callback. Inlined into the header exports, which then
// call the plugin directly: in a Wasm guest a call level costs a couple
// of hundred instructions per callback.
func (d *dispatcher) httpShared(id uint32, cb httpCallback) HTTPContext {
	c := d.shared
	if c == nil || d.https.n != 0 {
		return nil
	}
	d.deletes.tail = d.deletes.head // no entries: nothing to delete
	d.current, d.callback, d.inHTTP = id, cb, true
	httpDispatcher = d
	return c
}

// httpNotOK handles an HTTP callback whose context is not in order (its
// state is not httpOK). run reports whether the callback goes on; when it
// does not, a is the callback's answer.
func (d *dispatcher) httpNotOK(id uint32, e *httpEntry) (a Action, run bool) {
	switch e.state {
	case httpPanicPending:
		d.current = id
		d.failHTTP(id)
		return ActionPause, false
	case httpFailed:
		return ActionContinue, false
	}
	return 0, true
}

// httpDispatcher is the dispatcher whose httpCall runs, for httpRecover: a
// deferred function without receiver or arguments needs no wrapper, which
// saves a call per callback.
var httpDispatcher *dispatcher

// httpRecover ends an HTTP callback (deferred by httpCall). After a panic
// in the plugin's code it logs it and answers the request with a 500.
func httpRecover() {
	d := httpDispatcher
	if d.inHTTP {
		d.inHTTP = false
		if p := recover(); p != nil {
			d.httpPanicked(p)
		}
	}
	d.current = 0 // d.exit, without the call
	if len(pins) > 0 {
		releasePins()
	}
}

// httpPanicked handles a panic in callback d.callback of context
// d.current.
func (d *dispatcher) httpPanicked(p any) {
	where := httpCallbackNames[d.callback]
	if e := d.https.get(d.current); e != nil && e.state == httpUncreated {
		where = "NewHTTPContext"
	}
	logPanic(where, p)
	d.failHTTP(d.current)
}

// failHTTP stops calling a context's code and answers its request with a
// 500.
func (d *dispatcher) failHTTP(id uint32) {
	e := d.https.get(id)
	if e == nil && d.shared != nil {
		e = d.https.entry(id) // deleted through the ring like any other
		e.ctx = d.shared      // still told OnHTTPStreamDone
	}
	if e != nil {
		e.state = httpFailed
	}
	if err := sendLocalResponse(500, panicDetails, panicHeaders, panicBody, -1); err != nil {
		logAlways(abi.LogCritical, "sdk: could not answer the request after a panic: "+err.Error())
	}
}

func (d *dispatcher) rootPanic(where string, p any) { logPanic(where, p) }

func logPanic(where string, p any) {
	logAlways(abi.LogCritical, fmt.Sprintf("sdk: panic in %s: %v\n%s", where, p, debug.Stack()))
}

// logAlways logs whatever the host's level.
func logAlways(level abi.LogLevel, msg string) { proxyLog(uint32(level), msg) }

func (d *dispatcher) addCallout(token uint32, cb func(numHeaders, bodySize, numTrailers int)) {
	id := d.current
	if id == 0 {
		id = d.lastRoot
	}
	d.callouts[token] = callout{contextID: id, cb: cb}
}

func (d *dispatcher) onHTTPCallResponse(rootID, token uint32, numHeaders, bodySize, numTrailers int) {
	defer d.exit()
	c, ok := d.callouts[token]
	if !ok {
		return
	}
	delete(d.callouts, token)
	if c.cb == nil {
		return
	}
	if e := d.https.get(c.contextID); e != nil {
		if e.state != httpOK {
			return
		}
		if st := proxySetEffectiveContext(c.contextID); st != uint32(abi.StatusOK) {
			logAlways(abi.LogDebug, fmt.Sprintf("sdk: dropping the response to http call %d: its request (context %d) is gone", token, c.contextID))
			return
		}
		d.current = c.contextID
		defer func() {
			if p := recover(); p != nil {
				logPanic("an http call callback", p)
				d.failHTTP(c.contextID)
			}
		}()
		c.cb(numHeaders, bodySize, numTrailers)
		return
	}
	if c.contextID != rootID {
		if st := proxySetEffectiveContext(c.contextID); st != uint32(abi.StatusOK) {
			return
		}
	}
	d.current = c.contextID
	defer func() {
		if p := recover(); p != nil {
			d.rootPanic("an http call callback", p)
		}
	}()
	c.cb(numHeaders, bodySize, numTrailers)
}

// yield gives goroutines the plugin started a turn (the host calls the
// wasmgate_yield export every few calls). A round of the guest's scheduler
// costs thousands of instructions, so a plugin with no goroutine of its
// own (the common case) gets one, in which due timers fire (an
// AfterFunc's function runs in it), and one with goroutines gets several,
// so a goroutine woken by another runs in the same yield.
func yield() {
	rounds := yieldRounds
	if runtime.NumGoroutine() == 1 {
		rounds = 1
	}
	for i := 0; i < rounds; i++ {
		runtime.Gosched()
	}
	releasePins()
}

const yieldRounds = 4
