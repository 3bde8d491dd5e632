// Command mock is wasmgate's first-party mock plugin: it answers every
// request itself with a response taken from its configuration, the way an
// AWS API Gateway mock integration does. The gateway appends it to the
// pipeline of operations whose integration type is "mock".
//
// Configuration (JSON):
//
//	{"status": 200, "headers": {"content-type": "application/json"}, "body": "{\"id\": \"${route.id}\"}"}
//
// The body may use placeholders, replaced per request: ${request.method},
// ${request.path}, ${request.id}, ${stage}, ${route.NAME} (a path
// parameter), ${stage.NAME} (a stage variable) and ${header.NAME} (a
// request header). Unknown placeholders are rejected at deploy time.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mock.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
	sdk.SetHooks(sdk.HookRequestHeaders)
}

type config struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

// part is a literal or a placeholder of the body template.
type part struct {
	lit  string
	kind string // "" for literals; request.method, route, stage, header, ...
	name string
}

type root struct {
	sdk.DefaultRootContext
	status  uint32
	headers [][2]string
	body    []part
	static  []byte // the body when it has no placeholders
}

func parseConfig(data []byte) (config, []part, error) {
	c := config{Status: 200}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, nil, fmt.Errorf("configuration is not valid JSON for mock (want {\"status\":200,\"headers\":{...},\"body\":\"...\"}): %w", err)
		}
	}
	if c.Status < 100 || c.Status > 599 {
		return c, nil, fmt.Errorf("configuration: status %d is not an HTTP status (100..599)", c.Status)
	}
	for k, v := range c.Headers {
		if k == "" || strings.HasPrefix(k, ":") || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n\x00") {
			return c, nil, fmt.Errorf("configuration: header %q: %q is not a valid header", k, v)
		}
	}
	parts, err := parseTemplate(c.Body)
	return c, parts, err
}

func parseTemplate(s string) ([]part, error) {
	var parts []part
	for len(s) > 0 {
		i := strings.Index(s, "${")
		if i < 0 {
			parts = append(parts, part{lit: s})
			break
		}
		if i > 0 {
			parts = append(parts, part{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("configuration: body: unterminated placeholder at %q", s[i:])
		}
		ref := s[i+2 : i+j]
		s = s[i+j+1:]
		switch {
		case ref == "request.method", ref == "request.path", ref == "request.id", ref == "stage":
			parts = append(parts, part{kind: ref})
		case strings.HasPrefix(ref, "route.") && len(ref) > 6:
			parts = append(parts, part{kind: "route", name: ref[6:]})
		case strings.HasPrefix(ref, "stage.") && len(ref) > 6:
			parts = append(parts, part{kind: "stagevar", name: ref[6:]})
		case strings.HasPrefix(ref, "header.") && len(ref) > 7:
			parts = append(parts, part{kind: "header", name: strings.ToLower(ref[7:])})
		default:
			return nil, fmt.Errorf("configuration: body: unknown placeholder ${%s} (known: request.method, request.path, request.id, stage, route.NAME, stage.NAME, header.NAME)", ref)
		}
	}
	return parts, nil
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && !errors.Is(err, sdk.ErrNotFound) {
		sdk.LogErrorf("mock: cannot read the configuration: %v", err)
		return false
	}
	c, parts, err := parseConfig(data)
	if err != nil {
		sdk.LogErrorf("mock: %v", err)
		return false
	}
	r.status = uint32(c.Status)
	keys := make([]string, 0, len(c.Headers))
	for k := range c.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.headers = append(r.headers, [2]string{strings.ToLower(k), c.Headers[k]})
	}
	r.body = parts
	if len(parts) == 1 && parts[0].kind == "" {
		r.static = []byte(parts[0].lit)
	} else if len(parts) == 0 {
		r.static = []byte{}
	}
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &stream{root: r} }

type stream struct {
	sdk.DefaultHTTPContext
	root *root
}

func (s *stream) render() []byte {
	if s.root.static != nil {
		return s.root.static
	}
	var b strings.Builder
	for _, p := range s.root.body {
		var v string
		switch p.kind {
		case "":
			v = p.lit
		case "request.method":
			v, _ = sdk.GetPropertyString("request", "method")
		case "request.path":
			v, _ = sdk.GetPropertyString("request", "path")
		case "request.id":
			v, _ = sdk.GetPropertyString("request", "id")
		case "stage":
			v, _ = sdk.GetPropertyString("wasmgate", "stage")
		case "route":
			v, _ = sdk.GetRouteParam(p.name)
		case "stagevar":
			v, _ = sdk.GetStageVariable(p.name)
		case "header":
			v, _ = sdk.GetHTTPRequestHeader(p.name)
		}
		b.WriteString(v)
	}
	return []byte(b.String())
}

func (s *stream) OnHTTPRequestHeaders(int, bool) sdk.Action {
	if err := sdk.SendHTTPResponse(s.root.status, s.root.headers, s.render(), -1); err != nil {
		sdk.LogErrorf("mock: answering: %v", err)
	}
	return sdk.ActionPause
}
