package wasm

import (
	"context"
	"errors"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// The API key call of the "wasmgate" module: api_key_verify, backed by the
// stream host's APIKeyHost (host/apikeys through the pipeline).

func init() {
	register(extFuncs, abi.ExtAPIKeyVerify, hostAPIKeyVerify)
}

// APIKeyHost may be implemented by a StreamHost to back the wasmgate
// api_key_verify call of its stream; without it the call answers
// UNIMPLEMENTED. VerifyAPIKey looks up the key whose value is value for
// the stream's stage and returns its JSON document (abi.ExtAPIKeyVerify
// gives the shape); on success the implementation records the key's id
// on the request (the wasmgate.api_key.id property). value aliases guest
// memory: an implementation must not retain it. The returned document is
// copied into the guest before the next call and must not be modified
// afterwards by the host.
//
// # Errors
//
// ErrAPIKeyNotFound for an unknown or disabled key (NOT_FOUND for the
// guest), ErrNoAPIKeys when the gateway has no key store (UNIMPLEMENTED);
// anything else is INTERNAL_FAILURE.
type APIKeyHost interface {
	VerifyAPIKey(ctx context.Context, value string) ([]byte, error)
}

// Errors of APIKeyHost.
var (
	ErrAPIKeyNotFound = errors.New("api key not found or disabled")
	ErrNoAPIKeys      = errors.New("no api key store configured")
)

// hostAPIKeyVerify is api_key_verify(value_ptr, value_size,
// return_json_ptr, return_json_size) → status:
//
//	value_ptr        → [value_size bytes: the key value as the client sent it]
//	return_json_ptr  → [u32 address of the JSON document]  (written on OK)
//	return_json_size → [u32 its size]
//
// OK with the key's document (abi.ExtAPIKeyVerify), NOT_FOUND for an
// unknown, disabled or empty key or outside an HTTP context, UNIMPLEMENTED
// without a key store, INVALID_MEMORY_ACCESS for an argument out of
// bounds, INTERNAL_FAILURE when the store failed.
func hostAPIKeyVerify(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	value, ok := in.readString(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	retPtr, retSize := uint32(stack[2]), uint32(stack[3])
	if !in.validOut(retPtr, 4) || !in.validOut(retSize, 4) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	if in.cur == nil {
		status(stack, abi.StatusNotFound) // not in an HTTP context
		return
	}
	kh, ok := in.cur.host.(APIKeyHost)
	if !ok {
		status(stack, abi.StatusUnimplemented)
		return
	}
	if value == "" {
		status(stack, abi.StatusNotFound)
		return
	}
	doc, err := kh.VerifyAPIKey(in.ctx, value)
	switch {
	case errors.Is(err, ErrAPIKeyNotFound):
		status(stack, abi.StatusNotFound)
		return
	case errors.Is(err, ErrNoAPIKeys):
		status(stack, abi.StatusUnimplemented)
		return
	case err != nil:
		status(stack, abi.StatusInternalFailure)
		return
	}
	status(stack, in.returnBytes(doc, retPtr, retSize))
}
