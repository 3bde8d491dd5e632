package examples_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/examples"
	"github.com/wasmgate/wasmgate/host/config"
)

// TestPetstoreDocument checks the embedded petstore document: it is the
// file on disk, it is valid, and GET /hello/{name} is a function
// integration served by the hello-function plugin with payload 2.0 in
// both stages. e2e/petstore_test.go serves it.
func TestPetstoreDocument(t *testing.T) {
	onDisk, err := os.ReadFile("petstore/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != string(examples.Petstore) {
		t.Fatal("examples.Petstore is not petstore/petstore.yaml")
	}
	api, err := config.Parse("examples/petstore/petstore.yaml", examples.Petstore)
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	for _, s := range api.Stages {
		stages = append(stages, s.Name)
	}
	if len(stages) != 2 || stages[0] != "dev" || stages[1] != "prod" {
		t.Errorf("stages %v, want [dev prod]", stages)
	}
	var hello *config.Operation
	for _, op := range api.Operations {
		if op.Method == "GET" && op.Path == "/hello/{name}" {
			hello = op
		}
	}
	if hello == nil {
		t.Fatal("no GET /hello/{name}")
	}
	in := hello.Integration
	if in.Type != config.TypeFunction || in.Function == nil || in.Function.Name != "hello-function" || in.PayloadVersion != "2.0" {
		b, _ := json.Marshal(&in)
		t.Fatalf("GET /hello/{name}: integration %s, want a function on hello-function with payload 2.0", b)
	}
	// The API-wide pipeline (cors, rate-limit, template) runs before the
	// function.
	var names []string
	for _, p := range hello.Pipeline {
		names = append(names, p.Name)
	}
	if strings.Join(names, " ") != "cors rate-limit template" {
		t.Errorf("GET /hello/{name}: pipeline %v, want [cors rate-limit template]", names)
	}
}

func TestPetstoreBackend(t *testing.T) {
	b, err := examples.StartPetstoreBackend("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, err := http.Get(b.URL + "/pets/1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || string(body) != `{"id":1,"name":"Rex","tag":"dog"}`+"\n" {
		t.Errorf("GET /pets/1: %d %q", r.StatusCode, body)
	}
}
