package config_test

import (
	"errors"
	"fmt"

	"github.com/wasmgate/wasmgate/host/config"
)

func Example() {
	doc := []byte(`
openapi: 3.0.3
info: {title: Pets, version: "1.0"}
servers: [{url: https://api.example.com/v1}]
x-wasmgate-pipeline:
  - plugin: cors@1.2.0
    config: {allow_origins: ["*"]}
paths:
  /pets/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      x-wasmgate-integration:
        type: http_proxy
        uri: https://backend.example.com/pets/{id}
      responses: {"200": {description: A pet.}}
`)
	api, err := config.Parse("pets.yaml", doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, op := range api.Operations {
		fmt.Println(op.Method, api.BasePath+op.Path, "->", op.Integration.Type, op.Integration.URI)
		for _, p := range op.Pipeline {
			fmt.Println("  plugin", p.Name, p.Version, string(p.Config), p.OnError)
		}
	}
	// Output:
	// GET /v1/pets/{id} -> http_proxy https://backend.example.com/pets/{id}
	//   plugin cors 1.2.0 {"allow_origins":["*"]} fail_closed
}

func ExampleErrors() {
	doc := []byte(`openapi: 3.0.3
info: {title: Pets, version: "1.0"}
paths:
  /pets:
    get:
      x-wasmgate-pipeline:
        - plugin: cors@1.2.0
          on_error: ignore
      responses: {"200": {description: Pets.}}
`)
	_, err := config.Parse("pets.yaml", doc)
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Printf("line %d: %s\n", e.Line, e.Reason)
		}
	}
	// Output:
	// line 5: GET /pets has no integration; add x-wasmgate-integration (or x-amazon-apigateway-integration) to the operation, or a default x-wasmgate-integration to its path item or the document root
	// line 8: must be fail_closed or fail_open, not "ignore"
}
