// Command testfn is a function plugin for the lambda package's tests,
// built on StartJSON. By the request header x-test-mode it
//
//   - echo (default): answers 200 with the event JSON it received as the
//     body;
//   - respond: returns the request body, verbatim, as its proxy response
//     JSON (so tests can feed any response);
//   - error: returns an error;
//   - panic: panics.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

func main() {}

func init() { lambda.StartJSON(handle) }

func handle(event []byte) ([]byte, error) {
	var ev struct {
		Headers         map[string]string `json:"headers"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, err
	}
	switch ev.Headers["x-test-mode"] {
	case "respond":
		if ev.Body == nil {
			return nil, errors.New("respond: no body")
		}
		if ev.IsBase64Encoded {
			return base64.StdEncoding.DecodeString(*ev.Body)
		}
		return []byte(*ev.Body), nil
	case "error":
		return nil, errors.New("boom")
	case "panic":
		panic("boom")
	}
	return json.Marshal(map[string]any{
		"statusCode": 200,
		"headers":    map[string]string{"content-type": "application/json"},
		"body":       string(event),
	})
}
