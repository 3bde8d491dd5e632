// Command headers exercises the header, body, property and wasmgate
// extension calls:
//
//   - request: adds x-added, replaces x-replace, removes x-remove, copies
//     the number of request headers, request.path, the stage variable
//     "backend" and the route parameter "id" into x-count, x-path,
//     x-stage-var and x-route-id, the verified API key's id (the
//     wasmgate.api_key.id property) into x-api-key-id-prop, tries to
//     overwrite that property when asked (x-forge-api-key-id; the result
//     in x-forge-result), and appends "+plugin" to the body;
//   - request trailers: replaces x-t with "plugin" and adds x-t-count with
//     the number of trailers the client sent;
//   - response trailers: adds x-rt;
//   - response: adds x-echo with the value of the request's x-echo header
//     (read again in the response phase), sets x-status from :status and
//     replaces the response body with its upper-case form.
package main

import (
	"bytes"
	"errors"
	"strconv"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return root{} })
}

type root struct{ sdk.DefaultRootContext }

func (root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{} }

type ctx struct{ sdk.DefaultHTTPContext }

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func (*ctx) OnHTTPRequestHeaders(numHeaders int, endOfStream bool) sdk.Action {
	all, err := sdk.GetHTTPRequestHeaders()
	must(err)
	if len(all) != numHeaders {
		panic("numHeaders " + strconv.Itoa(numHeaders) + " but " + strconv.Itoa(len(all)) + " pairs")
	}
	must(sdk.AddHTTPRequestHeader("x-added", "1"))
	must(sdk.ReplaceHTTPRequestHeader("x-replace", "new"))
	must(sdk.RemoveHTTPRequestHeader("x-remove"))
	must(sdk.AddHTTPRequestHeader("x-count", strconv.Itoa(numHeaders)))
	path, err := sdk.GetPropertyString("request", "path")
	must(err)
	must(sdk.AddHTTPRequestHeader("x-path", path))
	if v, err := sdk.GetStageVariable("backend"); err == nil {
		must(sdk.AddHTTPRequestHeader("x-stage-var", v))
	} else if !errors.Is(err, sdk.ErrNotFound) {
		panic(err)
	}
	if vars, err := sdk.GetStageVariables(); err == nil && len(vars) > 0 {
		var all []string
		for _, kv := range vars {
			all = append(all, kv[0]+"="+kv[1])
		}
		must(sdk.AddHTTPRequestHeader("x-stage-vars", strings.Join(all, ",")))
	}
	if v, err := sdk.GetRouteParam("id"); err == nil {
		must(sdk.AddHTTPRequestHeader("x-route-id", v))
	}
	// The API key verified by an api-key plugin before this one: copied
	// into x-api-key-id-prop; x-forge-api-key-id asks to overwrite it,
	// which the host refuses (x-forge-result: the error, or "ok").
	if id, err := sdk.GetPropertyString("wasmgate", "api_key", "id"); err == nil {
		must(sdk.AddHTTPRequestHeader("x-api-key-id-prop", id))
	}
	if v, err := sdk.GetHTTPRequestHeader("x-forge-api-key-id"); err == nil {
		result := "ok"
		if err := sdk.SetProperty([]string{"wasmgate", "api_key", "id"}, []byte(v)); err != nil {
			result = err.Error()
		}
		must(sdk.AddHTTPRequestHeader("x-forge-result", result))
	}
	if _, err := sdk.GetHTTPRequestHeader("x-missing"); !errors.Is(err, sdk.ErrNotFound) {
		panic("want ErrNotFound for a missing header, got " + errString(err))
	}
	return sdk.ActionContinue
}

func (*ctx) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if !endOfStream {
		return sdk.ActionPause // buffer the whole body
	}
	body, err := sdk.GetHTTPRequestBody(0, bodySize)
	must(err)
	if len(body) != bodySize {
		panic("short body")
	}
	must(sdk.AppendHTTPRequestBody([]byte("+plugin")))
	return sdk.ActionContinue
}

func (*ctx) OnHTTPRequestTrailers(numTrailers int) sdk.Action {
	all, err := sdk.GetHTTPRequestTrailers()
	must(err)
	must(sdk.ReplaceHTTPRequestTrailer("x-t", "plugin"))
	must(sdk.AddHTTPRequestTrailer("x-t-count", strconv.Itoa(len(all))))
	if len(all) != numTrailers {
		panic("numTrailers mismatch")
	}
	return sdk.ActionContinue
}

func (*ctx) OnHTTPResponseTrailers(numTrailers int) sdk.Action {
	v, err := sdk.GetHTTPResponseTrailer("grpc-status")
	must(err)
	must(sdk.AddHTTPResponseTrailer("x-rt", "seen-"+v))
	return sdk.ActionContinue
}

func (*ctx) OnHTTPResponseHeaders(numHeaders int, endOfStream bool) sdk.Action {
	if v, err := sdk.GetHTTPRequestHeader("x-echo"); err == nil {
		must(sdk.AddHTTPResponseHeader("x-echo", v))
	}
	status, err := sdk.GetHTTPResponseHeader(":status")
	must(err)
	must(sdk.ReplaceHTTPResponseHeader("x-status", status))
	return sdk.ActionContinue
}

func (*ctx) OnHTTPResponseBody(bodySize int, endOfStream bool) sdk.Action {
	if !endOfStream {
		return sdk.ActionPause
	}
	body, err := sdk.GetHTTPResponseBody(0, bodySize)
	must(err)
	must(sdk.ReplaceHTTPResponseBody(bytes.ToUpper(body)))
	return sdk.ActionContinue
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}
