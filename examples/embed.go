// Package examples holds the example API documents and the demo backend
// that `wasmgate serve` uses when it is given no API of its own.
package examples

import _ "embed"

// Petstore is examples/petstore/petstore.yaml.
//
//go:embed petstore/petstore.yaml
var Petstore []byte
