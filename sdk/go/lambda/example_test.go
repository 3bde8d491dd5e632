package lambda_test

import (
	"fmt"

	"github.com/wasmgate/wasmgate/sdk/go/lambda"
)

// A handler builds its answer with JSON, Text or Binary, or fills a
// Response itself.
func ExampleJSON() {
	r, err := lambda.JSON(200, map[string]string{"message": "hello, <world>"})
	if err != nil {
		panic(err)
	}
	fmt.Println(r.StatusCode, r.Headers["content-type"], r.Body)
	// Output: 200 application/json {"message":"hello, <world>"}
}

func ExampleEvent_MarshalJSON() {
	ev := &lambda.Event{Version: lambda.V2, RouteKey: "GET /pets/{id}", RawPath: "/pets/7", HTTPMethod: "GET",
		PathParameters: map[string]string{"id": "7"},
		RequestContext: lambda.RequestContext{HTTPMethod: "GET", Path: "/pets/7", Protocol: "HTTP/1.1", RequestID: "r-1", Stage: "prod"}}
	b, err := ev.MarshalJSON()
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: {"version":"2.0","routeKey":"GET /pets/{id}","rawPath":"/pets/7","rawQueryString":"","headers":{},"pathParameters":{"id":"7"},"requestContext":{"routeKey":"GET /pets/{id}","stage":"prod","requestId":"r-1","domainName":"","domainPrefix":"","http":{"method":"GET","path":"/pets/7","protocol":"HTTP/1.1","sourceIp":"","userAgent":""},"time":"","timeEpoch":0},"isBase64Encoded":false}
}
