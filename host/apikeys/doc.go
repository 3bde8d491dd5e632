// Package apikeys is wasmgate's store of API keys and usage plans, in the
// manner of AWS API Gateway: keys are created through the admin API (the
// plaintext value is returned once and never stored: the store keeps its
// SHA-256), usage plans carry a throttle (rate, burst), a quota (requests
// per UTC day, week or month), optional per-route throttles and the
// stages they apply to, and a key is in at most one plan per stage.
//
// The api-key plugin asks the gateway about a value through the
// wasmgate.api_key_verify host call; the gateway answers with
// Store.VerifyAPIKey, a read of an immutable in-memory index keyed by the
// value's SHA-256 that holds each key's answer, pre-encoded as JSON, per
// stage. Changes are written to a bbolt file (one transaction each) and
// then swap in a rebuilt index, so a request never waits on a change and
// never sees half of one.
//
// # Notes
//
// The store is its own bbolt file (StoreFile, in the data directory) rather
// than buckets in host/deploy's: the gateway needs it when it is created,
// before the deploy manager opens its store; keys are not part of
// deployments (they are not exported, versioned or rolled back with a
// stage); and deleting or restoring one file leaves the other intact. A
// cluster of gateways sharing Redis shares their throttles and quotas,
// but each node keeps its own key store.
//
// # Errors
//
// Errors match ErrNotFound, ErrConflict or ErrInvalid (errors.Is), which
// the admin API answers as 404, 409 and 400; their messages say what to
// change.
package apikeys
