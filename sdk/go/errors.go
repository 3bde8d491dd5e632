package sdk

import (
	"errors"

	"github.com/wasmgate/wasmgate/abi"
)

// Errors returned by host calls. Each is the abi.Status the host returned,
// so errors.Is(err, ErrNotFound) works both for a bare status and for a
// *HostCallError wrapping one.
var (
	ErrNotFound             error = abi.StatusNotFound
	ErrBadArgument          error = abi.StatusBadArgument
	ErrSerializationFailure error = abi.StatusSerializationFailure
	ErrParseFailure         error = abi.StatusParseFailure
	ErrInvalidMemoryAccess  error = abi.StatusInvalidMemoryAccess
	ErrEmpty                error = abi.StatusEmpty
	ErrCASMismatch          error = abi.StatusCASMismatch
	ErrInternalFailure      error = abi.StatusInternalFailure
	ErrUnimplemented        error = abi.StatusUnimplemented
)

// HostCallError is a failed host call other than an expected outcome
// (NOT_FOUND, EMPTY and CAS_MISMATCH are returned as bare statuses).
type HostCallError struct {
	Func   string     // host function, e.g. "proxy_get_header_map_value"
	Status abi.Status // what the host returned
}

func (e *HostCallError) Error() string {
	return "sdk: " + e.Func + ": " + e.Status.String() + hint(e.Status)
}

// Unwrap returns the status, so errors.Is matches the Err* values.
func (e *HostCallError) Unwrap() error { return e.Status }

func hint(s abi.Status) string {
	switch s {
	case abi.StatusBadArgument:
		return " (bad argument, or the value is not available in this callback: request data only in HTTP callbacks, configuration only in OnVMStart/OnPluginStart)"
	case abi.StatusInvalidMemoryAccess:
		return " (the host could not access plugin memory)"
	case abi.StatusUnimplemented:
		return " (this host does not implement the call)"
	case abi.StatusInternalFailure:
		return " (host internal failure; see the host log)"
	case abi.StatusSerializationFailure, abi.StatusParseFailure:
		return " (the host could not encode or decode the value)"
	}
	return ""
}

// errNotInHost is returned by every host call outside a wasip1 build.
var errNotInHost = &notInHostError{}

type notInHostError struct{}

func (*notInHostError) Error() string {
	return "sdk: not running inside a Proxy-Wasm host; build the plugin with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared and run it in wasmgate (or sdktest)"
}

func (*notInHostError) Unwrap() error { return ErrUnimplemented }

// errForeignMemory is returned when the host hands back memory the SDK did
// not allocate.
var errForeignMemory = errors.New("sdk: the host returned memory that proxy_on_memory_allocate did not allocate")

// statusErr converts a host call status to an error. fn names the host
// function for the error message. It is inlined into every host call
// wrapper, so it is only the test for OK: in a Wasm guest, the error path
// inlined there too would be fetched with every call.
func statusErr(fn string, st uint32) error {
	if st == uint32(abi.StatusOK) {
		return nil
	}
	return statusError(fn, abi.Status(st))
}

// statusError is the error of a host call that did not return OK.
func statusError(fn string, s abi.Status) error {
	switch s {
	case abi.StatusNotFound, abi.StatusEmpty, abi.StatusCASMismatch:
		return s
	case abi.StatusUnimplemented:
		if !inHost {
			return errNotInHost
		}
		return &HostCallError{Func: fn, Status: s}
	default:
		return &HostCallError{Func: fn, Status: s}
	}
}

// statusErrors holds a host function's error for each status. A host call
// wrapper that picks its error from the table instead of calling
// statusError makes one call, to the host, and is then short enough to be
// inlined into the plugin's code: in a Wasm guest a Go call costs a
// hundred or more instructions and their cache lines. Statuses past the
// table, which no Proxy-Wasm host returns, read as its last.
type statusErrors [16]error

func errorsFor(fn string) *statusErrors {
	var t statusErrors
	for i := range t {
		if i != int(abi.StatusOK) {
			t[i] = statusError(fn, abi.Status(i))
		}
	}
	return &t
}

// lastStatus indexes a statusErrors' last entry: t[min(st, lastStatus)].
const lastStatus = uint32(len(statusErrors{}) - 1)

var (
	addHeaderErrors       = errorsFor(abi.FuncAddHeaderMapValue)
	replaceHeaderErrors   = errorsFor(abi.FuncReplaceHeaderMapValue)
	removeHeaderErrors    = errorsFor(abi.FuncRemoveHeaderMapValue)
	incrementMetricErrors = errorsFor(abi.FuncIncrementMetric)
)
