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
}

var state = dispatcher{
	roots:    map[uint32]RootContext{},
	callouts: map[uint32]callout{},
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

// newHTTP creates HTTP context id under root context parentID.
func (d *dispatcher) newHTTP(id, parentID uint32) *httpEntry {
	r := d.root(parentID)
	e := httpEntry{rootID: parentID}
	if r != nil {
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
	d.https.put(id, e)
	return d.https.get(id)
}

// http returns HTTP context id, creating it under the root context when
// the host did not announce it: the SDK declares abi.HookLazyContexts, so
// wasmgate calls no proxy_on_context_create for HTTP streams and the
// first callback of a stream creates its context.
func (d *dispatcher) http(id uint32) *httpEntry {
	if e := d.https.get(id); e != nil {
		return e
	}
	if id == 0 || d.lastRoot == 0 || id == d.lastRoot {
		return nil
	}
	if len(d.roots) > 1 {
		if _, ok := d.roots[id]; ok {
			return nil // a root context is not an HTTP one
		}
	}
	return d.newHTTP(id, d.lastRoot)
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
	return d.rootCall(id, "OnPluginStart", func(r RootContext) bool { return r.OnPluginStart(size) })
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
	e := d.http(id)
	if e == nil || e.ctx == nil {
		return
	}
	d.current = id
	defer func() {
		if p := recover(); p != nil {
			logPanic("OnHTTPStreamDone", p)
		}
	}()
	e.ctx.OnHTTPStreamDone()
}

func (d *dispatcher) onDelete(id uint32) {
	defer d.exit()
	if d.https.delete(id) {
		if len(d.callouts) > 0 {
			for token, c := range d.callouts {
				if c.contextID == id {
					delete(d.callouts, token)
				}
			}
		}
		return
	}
	if id == d.lastRootID {
		d.lastRootID, d.lastRootCtx = 0, nil
	}
	delete(d.roots, id)
}

// httpCall runs an HTTP callback of context id.
func (d *dispatcher) httpCall(id uint32, where string, fn func(HTTPContext) Action) (a Action) {
	e := d.http(id)
	if e != nil && e.state == httpPanicPending {
		d.current = id
		d.failHTTP(id)
		d.exit()
		return ActionPause
	}
	if e == nil || e.ctx == nil || e.state == httpFailed {
		d.exit()
		return ActionContinue
	}
	d.current = id
	// One deferred call, not two: defers are costly in a Wasm guest, and
	// this is every HTTP callback.
	defer func() {
		if p := recover(); p != nil {
			logPanic(where, p)
			d.failHTTP(id)
			a = ActionPause
		}
		d.exit()
	}()
	return fn(e.ctx)
}

// failHTTP stops calling a context's code and answers its request with a
// 500.
func (d *dispatcher) failHTTP(id uint32) {
	if e := d.https.get(id); e != nil {
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
// wasmgate_yield export every few calls).
func yield() {
	for i := 0; i < yieldRounds; i++ {
		runtime.Gosched()
	}
	releasePins()
}

const yieldRounds = 4
