package pipeline

import (
	"context"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// APIKeys looks up API keys for the wasmgate.api_key_verify call;
// host/apikeys.Store implements it. VerifyAPIKey returns the id and the
// JSON document (abi.ExtAPIKeyVerify) of the enabled key whose value is
// value, with its usage plan for stage; ok is false for an unknown or
// disabled key. It runs while a guest waits: it must not block.
type APIKeys interface {
	VerifyAPIKey(stage, value string) (id string, doc []byte, ok bool)
}

// StageNamer may be implemented by an exchange's Props to give the stage
// name without encoding it as a property.
type StageNamer interface {
	StageName() string
}

var _ wasm.APIKeyHost = (*stepHost)(nil)

// VerifyAPIKey implements wasm.APIKeyHost through the exchange's APIKeys,
// for the request's stage. A verified key's id becomes the request's
// wasmgate.api_key.id property, which plugins cannot set.
func (h *stepHost) VerifyAPIKey(_ context.Context, value string) ([]byte, error) {
	x := h.x
	if x.APIKeys == nil {
		return nil, wasm.ErrNoAPIKeys
	}
	var stage string
	switch p := x.props.(type) {
	case StageNamer:
		stage = p.StageName()
	case Props:
		b, _ := p.Property(abi.PropStage)
		stage = string(b)
	}
	id, doc, ok := x.APIKeys.VerifyAPIKey(stage, value)
	x.mu.Lock()
	defer x.mu.Unlock()
	if !ok {
		delete(x.setProps, abi.PropAPIKeyID) // the property names the last key verified
		return nil, wasm.ErrAPIKeyNotFound
	}
	if x.setProps == nil {
		x.setProps = map[string][]byte{}
	}
	x.setProps[abi.PropAPIKeyID] = []byte(id)
	return doc, nil
}
