// Command hello-function is an example "function" integration written with
// the Lambda-style helper (sdk/go/lambda): it answers
//
//	{"message": "hello, <name>", "stage": "<stage>"}
//
// taking the name from the {name} path parameter, else the name query
// parameter, else "world". examples/petstore routes /hello/{name} to it
// (payload 2.0).
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o hello-function.wasm .
package main

import (
	"strings"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

// main is never called: the plugin is a WASI reactor (-buildmode=c-shared).
func main() {}

func init() { lambda.Start(hello) }

// maxName bounds the name echoed back.
const maxName = 128

// greeting is the response body.
type greeting struct {
	Message string `json:"message"`
	Stage   string `json:"stage"`
}

func hello(ctx lambda.Context, ev *lambda.Event) (*lambda.Response, error) {
	name := ev.PathParameters["name"]
	if name == "" {
		// A repeated parameter: the first value. Payload 1.0 lists them
		// all in MultiValueQueryStringParameters (its single-value map
		// keeps the last); payload 2.0 joins them with ",".
		if vs := ev.MultiValueQueryStringParameters["name"]; len(vs) > 0 {
			name = vs[0]
		} else {
			name, _, _ = strings.Cut(ev.QueryStringParameters["name"], ",")
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "world"
	}
	if utf8.RuneCountInString(name) > maxName {
		return lambda.JSON(400, map[string]string{"message": "name is too long (at most 128 characters)"})
	}
	if !utf8.ValidString(name) || strings.ContainsFunc(name, isControl) {
		return lambda.JSON(400, map[string]string{"message": "name must be printable text"})
	}
	return lambda.JSON(200, greeting{Message: "hello, " + name, Stage: ctx.Stage})
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
