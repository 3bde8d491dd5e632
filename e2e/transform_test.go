package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wasmgate/wasmgate/host/config"
)

// received is a request as the upstream saw it.
type received struct {
	Method, Path, RawQuery, Host string
	Header                       http.Header
	Body                         string
	ContentLength                int64
}

// recordingUpstream records every request and answers by path: for
// /v2/pets/{id}, {id} picks the answer (a status code, "notjson", "empty",
// or any other id for a 200 pet); /v2/pets/{id}/update answers 200
// {"data":{"ok":true,"id":...}}; anything else 200 {"ok":true}.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []received
}

func newRecordingUpstream(t testing.TB) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, received{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			Header: r.Header.Clone(), Body: string(b), ContentLength: r.ContentLength})
		u.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Version", "3")
		h.Add("X-Multi", "a")
		h.Add("X-Multi", "b")
		rest, isPet := strings.CutPrefix(r.URL.Path, "/v2/pets/")
		switch {
		case isPet && strings.HasSuffix(rest, "/update"):
			w.Write([]byte(`{"data":{"id":"` + strings.TrimSuffix(rest, "/update") + `","ok":true}}`))
		case !isPet:
			w.Write([]byte(`{"ok":true}`))
		case rest == "notjson":
			h.Set("Content-Type", "text/plain")
			w.Write([]byte("not json"))
		case rest == "empty":
			h.Del("Content-Type")
			w.WriteHeader(204)
		case rest == "201":
			w.WriteHeader(201)
			w.Write([]byte(`{"data":{"name":"new"}}`))
		case rest == "404", rest == "410":
			w.WriteHeader(map[string]int{"404": 404, "410": 410}[rest])
			w.Write([]byte(`{"message":"no such pet"}`))
		case rest == "418":
			h.Set("Content-Type", "text/plain")
			w.WriteHeader(418)
			w.Write([]byte("teapot"))
		case rest == "500":
			w.WriteHeader(500)
			w.Write([]byte(`{"message":"boom"}`))
		default:
			w.Write([]byte(`{"data":{"name":"rex","tag":"dog"},"version":3}`))
		}
	}))
	t.Cleanup(u.Close)
	return u
}

// last returns the last request received, and how many there were.
func (u *recordingUpstream) last() (received, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.reqs) == 0 {
		return received{}, 0
	}
	return u.reqs[len(u.reqs)-1], len(u.reqs)
}

func (u *recordingUpstream) count() int {
	_, n := u.last()
	return n
}

func transformDoc(upstream string) string {
	return `openapi: 3.0.3
info: {title: e2e transform, version: "1"}
x-wasmgate-stages:
  - name: dev
    variables: {backend: "` + upstream + `", backendKey: key-dev}
  - name: prod
    hosts: [tx.example.test]
    variables: {backend: "` + upstream + `", backendKey: key-prod}
paths:
  /pets/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get:
      x-wasmgate-integration:
        type: http
        uri: ${stageVariables.backend}/v2/pets/{id}
        transform:
          request:
            headers:
              x-api-key: stageVariables.backendKey
              x-user-id: method.request.header.x-user
              x-all: method.request.multivalueheader.x-multi
              x-pet: method.request.path.id
              x-search: method.request.querystring.search
              x-trace: context.requestId
              x-stage: context.stage
              x-route: context.resourcePath
              x-lit: "'literal value'"
              x-missing: method.request.header.nope
            query:
              fields: "'name,tag'"
              id: method.request.path.id
              q: method.request.querystring.search
              tags: method.request.multivaluequerystring.tag
          responses:
            - pattern: 2\d\d
              headers:
                x-backend-version: integration.response.header.x-version
                x-pet-name: integration.response.body.data.name
                x-multi: integration.response.multivalueheader.x-multi
                x-fixed: "'yes'"
              templates:
                application/json: '{"name": $input.json(''$.data.name''), "id": "$input.params(''id'')", "stage": "$context.stage", "user": "$util.escapeJavaScript($input.params(''x-user''))"}'
                application/xml: '<pet id="$input.params(''id'')">$input.path(''$.data.name'')</pet>'
            - pattern: "404|410"
              status: 404
              templates:
                application/json: '{"message": "no pet $util.escapeJavaScript($input.params(''id''))"}'
            - pattern: 5\d\d
              status: 503
              headers: {retry-after: "'30'"}
            - pattern: default
              status: 502
              templates:
                application/json: '{"message": "upstream failed in $context.stage"}'
      responses: {"200": {description: a pet}}
    put:
      x-wasmgate-integration:
        type: http
        method: POST
        uri: ${stageVariables.backend}/v2/pets/{id}/update
        transform:
          request:
            headers:
              x-owner: method.request.body.owner.name
              x-tags: method.request.body.tags
            query:
              tag: method.request.body.$.tag
              n: method.request.body.count
            templates:
              application/json: '{"pet": {"name": $input.json(''$.name''), "id": "$input.params(''id'')"}, "owner": "$input.path(''$.owner.name'')", "raw": "$util.escapeJavaScript($input.body)", "b64": "$util.base64Encode($input.path(''$.name''))"}'
            passthrough: never
          responses:
            - pattern: default
              templates:
                application/json: '{"updated": $input.json(''$.data'')}'
      responses: {"200": {description: updated}}
  /notes:
    post:
      x-wasmgate-integration:
        type: http
        uri: ${stageVariables.backend}/notes?src=gw
        transform:
          request:
            templates:
              application/json: '{"note": $input.json(''$''), "by": "$input.params(''x-user'')"}'
      responses: {"200": {description: noted}}
  /aws/pets/{petId}:
    get:
      parameters: [{name: petId, in: path, required: true, schema: {type: string}}]
      x-amazon-apigateway-integration:
        type: http
        httpMethod: GET
        uri: ${stageVariables.backend}/v2/pets/{id}
        requestParameters:
          integration.request.path.id: method.request.path.petId
          integration.request.header.x-api-key: stageVariables.backendKey
          integration.request.querystring.fields: "'name'"
        passthroughBehavior: WHEN_NO_MATCH
        responses:
          2\d\d:
            statusCode: "200"
            responseParameters:
              method.response.header.x-backend-version: integration.response.header.x-version
            responseTemplates:
              application/json: '{"pet": $input.json(''$.data.name'')}'
          default:
            statusCode: "500"
      responses: {"200": {description: ok}}
`
}

// TestHTTPTransformRequestMapping checks what the upstream receives from
// an http integration with request mappings: headers and query parameters
// from headers, the query, path parameters, the context, stage variables
// and literals; hostile values that must not be injected.
func TestHTTPTransformRequestMapping(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	tests := []struct {
		name    string
		url     string
		hdr     []string
		path    string
		query   string
		headers map[string][]string // exact; nil: absent
	}{
		{"every kind of source", "/dev/pets/7?search=cat&tag=a&tag=b&keep=1&fields=x",
			[]string{"X-User", "alice", "X-Multi", "1", "X-Multi", "2"},
			"/v2/pets/7", "search=cat&tag=a&tag=b&keep=1&fields=name%2Ctag&id=7&q=cat&tags=a&tags=b",
			map[string][]string{"X-Api-Key": {"key-dev"}, "X-User-Id": {"alice"}, "X-All": {"1,2"}, "X-Pet": {"7"}, "X-Search": {"cat"},
				"X-Stage": {"dev"}, "X-Route": {"/pets/{id}"}, "X-Lit": {"literal value"}, "X-Missing": nil,
				"X-User": {"alice"}, "X-Multi": {"1", "2"}, "X-Forwarded-Proto": {"http"}}},
		{"prod stage by host, nothing to map", "/pets/8", []string{"Host", "tx.example.test"},
			"/v2/pets/8", "fields=name%2Ctag&id=8",
			map[string][]string{"X-Api-Key": {"key-prod"}, "X-Stage": {"prod"}, "X-User-Id": nil, "X-All": nil, "X-Search": nil,
				"X-Pet": {"8"}, "X-Lit": {"literal value"}, "X-Forwarded-Host": {"tx.example.test"}}},
		{"escaped path parameter", "/dev/pets/a%20b%2Fc", nil,
			"/v2/pets/a b/c", "fields=name%2Ctag&id=a+b%2Fc",
			map[string][]string{"X-Pet": {"a b/c"}}},
		{"CR LF in a value is not set as a header", "/dev/pets/7?search=a%0D%0AX-Evil:%201", []string{"X-User", "bob"},
			"/v2/pets/7", "search=a%0D%0AX-Evil:%201&fields=name%2Ctag&id=7&q=a%0D%0AX-Evil%3A+1",
			map[string][]string{"X-Search": nil, "X-Evil": nil, "X-User-Id": {"bob"}}},
		{"query injection stays one value", "/dev/pets/7?search=%26admin%3Dtrue", nil,
			"/v2/pets/7", "search=%26admin%3Dtrue&fields=name%2Ctag&id=7&q=%26admin%3Dtrue",
			map[string][]string{"X-Search": {"&admin=true"}}},
		{"a spoofed mapped header is replaced", "/dev/pets/7", []string{"X-Api-Key", "stolen", "X-Pet", "99"},
			"/v2/pets/7", "fields=name%2Ctag&id=7",
			map[string][]string{"X-Api-Key": {"key-dev"}, "X-Pet": {"7"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			r := send(t, newRequest(t, "GET", e.base+tt.url, nil, tt.hdr...))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got, n := up.last()
			if n != before+1 {
				t.Fatalf("the upstream got %d requests, want 1", n-before)
			}
			if got.Method != "GET" || got.Path != tt.path || got.RawQuery != tt.query {
				t.Errorf("upstream got %s %s ? %s\n                 want GET %s ? %s", got.Method, got.Path, got.RawQuery, tt.path, tt.query)
			}
			for k, want := range tt.headers {
				if v := got.Header.Values(k); !reflect.DeepEqual(v, want) && (len(v) != 0 || len(want) != 0) {
					t.Errorf("upstream header %s = %q, want %q", k, v, want)
				}
			}
			id := r.header.Get("X-Request-Id")
			if id == "" || got.Header.Get("X-Trace") != id || got.Header.Get("X-Request-Id") != id {
				t.Errorf("request id %q: upstream X-Trace %q, X-Request-Id %q", id, got.Header.Get("X-Trace"), got.Header.Get("X-Request-Id"))
			}
		})
	}
	if !strings.Contains(e.errs.String(), "not setting request header x-search: the value contains CR, LF or NUL") {
		t.Errorf("the refused header value is not logged:\n%s", e.errs)
	}
}

// TestHTTPTransformRequestBody checks body mapping templates, body-sourced
// mappings and passthrough behaviours at the upstream, and the requests
// the transform answers itself (415, 400) without calling the upstream.
func TestHTTPTransformRequestBody(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	pet := `{"name":"Kit","owner":{"name":"Ann \"A\""},"tag":"cat","count":2,"tags":["a","b"]}`
	tests := []struct {
		name, method, url, body string
		hdr                     []string
		// what the upstream gets; upPath "" means no upstream call
		upMethod, upPath, upQuery, upBody string
		upHeaders                         map[string][]string
		// what the client gets
		status int
		resp   string
	}{
		{"template and body mappings", "PUT", "/dev/pets/9", pet, []string{"Content-Type", "application/json; charset=utf-8"},
			"POST", "/v2/pets/9/update", "n=2&tag=cat",
			`{"pet": {"name": "Kit", "id": "9"}, "owner": "Ann "A"", "raw": "{\"name\":\"Kit\",\"owner\":{\"name\":\"Ann \\\"A\\\"\"},\"tag\":\"cat\",\"count\":2,\"tags\":[\"a\",\"b\"]}", "b64": "S2l0"}`,
			map[string][]string{"X-Owner": {`Ann "A"`}, "X-Tags": {`["a","b"]`}, "Content-Type": {"application/json; charset=utf-8"}},
			200, `{"updated": {"id":"9","ok":true}}`},
		{"no content type counts as JSON", "PUT", "/dev/pets/10", `{"name":"Rex"}`, nil,
			"POST", "/v2/pets/10/update", "",
			`{"pet": {"name": "Rex", "id": "10"}, "owner": "", "raw": "{\"name\":\"Rex\"}", "b64": "UmV4"}`,
			map[string][]string{"X-Owner": nil, "X-Tags": nil},
			200, `{"updated": {"id":"10","ok":true}}`},
		{"passthrough never: 415", "PUT", "/dev/pets/9", "name=Kit", []string{"Content-Type", "application/x-www-form-urlencoded"},
			"", "", "", "", nil,
			415, `{"message":"Unsupported Media Type"}`},
		{"malformed JSON: 400", "PUT", "/dev/pets/9", `{"name":`, []string{"Content-Type", "application/json"},
			"", "", "", "", nil,
			400, `{"message":"Could not parse request body into json: unexpected EOF"}`},
		{"JSON that is not an object", "PUT", "/dev/pets/9", `[1,2]`, []string{"Content-Type", "application/json"},
			"POST", "/v2/pets/9/update", "", `{"pet": {"name": null, "id": "9"}, "owner": "", "raw": "[1,2]", "b64": ""}`, nil,
			200, `{"updated": {"id":"9","ok":true}}`},
		{"no body: no template, mappings find nothing", "PUT", "/dev/pets/11", "", nil,
			"POST", "/v2/pets/11/update", "", "", map[string][]string{"X-Owner": nil, "Content-Type": nil},
			200, `{"updated": {"id":"11","ok":true}}`},
		{"when_no_match passes other types", "POST", "/dev/notes", "plain text", []string{"Content-Type", "text/plain", "X-User", "u"},
			"POST", "/notes", "src=gw", "plain text", map[string][]string{"Content-Type": {"text/plain"}},
			200, `{"ok":true}`},
		{"JSON is templated", "POST", "/dev/notes?x=1", `{"text":"hi </b>"}`, []string{"Content-Type", "application/json", "X-User", "u1"},
			"POST", "/notes", "src=gw&x=1", `{"note": {"text":"hi </b>"}, "by": "u1"}`, nil,
			200, `{"ok":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := up.count()
			r := send(t, newRequest(t, tt.method, e.base+tt.url, strings.NewReader(tt.body), tt.hdr...))
			if r.status != tt.status || r.body != tt.resp {
				t.Errorf("client got %d %s\n           want %d %s", r.status, r.body, tt.status, tt.resp)
			}
			got, n := up.last()
			if tt.upPath == "" {
				if n != before {
					t.Fatalf("the upstream was called: %+v", got)
				}
				return
			}
			if n != before+1 {
				t.Fatalf("the upstream got %d requests, want 1", n-before)
			}
			if got.Method != tt.upMethod || got.Path != tt.upPath || got.RawQuery != tt.upQuery {
				t.Errorf("upstream got %s %s ? %s, want %s %s ? %s", got.Method, got.Path, got.RawQuery, tt.upMethod, tt.upPath, tt.upQuery)
			}
			if got.Body != tt.upBody {
				t.Errorf("upstream body\n got %s\nwant %s", got.Body, tt.upBody)
			}
			if got.ContentLength != int64(len(tt.upBody)) {
				t.Errorf("upstream Content-Length %d, body %d bytes", got.ContentLength, len(tt.upBody))
			}
			for k, want := range tt.upHeaders {
				if v := got.Header.Values(k); !reflect.DeepEqual(v, want) && (len(v) != 0 || len(want) != 0) {
					t.Errorf("upstream header %s = %q, want %q", k, v, want)
				}
			}
		})
	}
}

// TestHTTPTransformResponseMapping checks response mappings: status
// selection by pattern, header mappings, body templates chosen by Accept,
// untouched bodies, a non-JSON upstream body, and the AWS form.
func TestHTTPTransformResponseMapping(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	tests := []struct {
		name    string
		url     string
		hdr     []string
		status  int
		headers map[string][]string // exact; nil: absent
		body    string
	}{
		{"2xx template and header mappings", "/dev/pets/7", []string{"X-User", `al"i/ce`},
			200, map[string][]string{"Content-Type": {"application/json"}, "X-Backend-Version": {"3"}, "X-Pet-Name": {"rex"},
				"X-Multi": {"a,b"}, "X-Fixed": {"yes"}, "X-Version": {"3"}, "Retry-After": nil},
			`{"name": "rex", "id": "7", "stage": "dev", "user": "al\"i\/ce"}`},
		{"non-ASCII escaped by escapeJavaScript", "/dev/pets/7", []string{"X-User", "caf\u00e9 \u2603"},
			200, map[string][]string{"Content-Type": {"application/json"}},
			`{"name": "rex", "id": "7", "stage": "dev", "user": "caf\u00E9 \u2603"}`},
		{"template chosen by Accept", "/dev/pets/7", []string{"Accept", "text/html;q=0.9, application/xml"},
			200, map[string][]string{"Content-Type": {"application/xml"}, "X-Pet-Name": {"rex"}},
			`<pet id="7">rex</pet>`},
		{"Accept with no template: application/json", "/dev/pets/7", []string{"Accept", "image/png"},
			200, map[string][]string{"Content-Type": {"application/json"}},
			`{"name": "rex", "id": "7", "stage": "dev", "user": ""}`},
		{"upstream status kept", "/dev/pets/201", nil,
			201, map[string][]string{"Content-Type": {"application/json"}},
			`{"name": "new", "id": "201", "stage": "dev", "user": ""}`},
		{"204: the template has no body to replace", "/dev/pets/empty", nil,
			204, map[string][]string{"X-Backend-Version": {"3"}, "X-Fixed": {"yes"}, "Content-Length": nil},
			""},
		{"404 mapped", "/dev/pets/404", nil,
			404, map[string][]string{"Content-Type": {"application/json"}, "X-Pet-Name": nil, "X-Fixed": nil},
			`{"message": "no pet 404"}`},
		{"410 mapped to 404", "/dev/pets/410", nil,
			404, map[string][]string{"Content-Type": {"application/json"}},
			`{"message": "no pet 410"}`},
		{"5xx: status and header, body untouched", "/dev/pets/500", nil,
			503, map[string][]string{"Content-Type": {"application/json"}, "Retry-After": {"30"}},
			`{"message":"boom"}`},
		{"default: a text upstream body is templated", "/dev/pets/418", nil,
			502, map[string][]string{"Content-Type": {"application/json"}},
			`{"message": "upstream failed in dev"}`},
		{"prod stage in the template", "/pets/418", []string{"Host", "tx.example.test"},
			502, map[string][]string{"Content-Type": {"application/json"}},
			`{"message": "upstream failed in prod"}`},
		{"upstream body not JSON: 500", "/dev/pets/notjson", nil,
			500, map[string][]string{"Content-Type": {"application/json"}, "X-Pet-Name": nil},
			`{"message":"Internal server error"}`},
		{"aws form", "/dev/aws/pets/7", nil,
			200, map[string][]string{"Content-Type": {"application/json"}, "X-Backend-Version": {"3"}},
			`{"pet": "rex"}`},
		{"aws form, default response", "/dev/aws/pets/404", nil,
			500, map[string][]string{"Content-Type": {"application/json"}},
			`{"message":"no such pet"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, newRequest(t, "GET", e.base+tt.url, nil, tt.hdr...))
			if r.status != tt.status || r.body != tt.body {
				t.Errorf("got %d %s\nwant %d %s", r.status, r.body, tt.status, tt.body)
			}
			for k, want := range tt.headers {
				if v := r.header.Values(k); !reflect.DeepEqual(v, want) && (len(v) != 0 || len(want) != 0) {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			if tt.status != 204 && r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) || r.header.Get("X-Request-Id") == "" {
				t.Errorf("Content-Length %q for %d bytes, X-Request-Id %q", r.header.Get("Content-Length"), len(r.body), r.header.Get("X-Request-Id"))
			}
		})
	}
	// The AWS form mapped the path parameter and added its header and query.
	if r := do(t, nil, "GET", e.base+"/dev/aws/pets/12", nil); r.status != 200 {
		t.Fatalf("aws form: %d %s", r.status, r.body)
	}
	if got, _ := up.last(); got.Path != "/v2/pets/12" || got.RawQuery != "fields=name" || got.Header.Get("X-Api-Key") != "key-dev" {
		t.Errorf("aws form: upstream got %s ? %s, x-api-key %q", got.Path, got.RawQuery, got.Header.Get("X-Api-Key"))
	}
	if !strings.Contains(e.errs.String(), "transform: unable to transform the response") {
		t.Errorf("the failed response template is not logged:\n%s", e.errs)
	}
}

// TestHTTPTransformBadConfig: transform specs that host/config or the
// plugin reject, before anything serves.
func TestHTTPTransformBadConfig(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	tests := []struct{ name, from, to, want string }{
		{"bad source", "x-user-id: method.request.header.x-user", "x-user-id: method.request.cookie.x",
			`test.yaml:20:15: /paths/~1pets~1{id}/get/x-wasmgate-integration/transform/request/headers/x-user-id: unsupported source "method.request.cookie.x"`},
		{"directive in a template", `application/json: '{"updated": $input.json(''$.data'')}'`, `application/json: '#set($a = 1)$a'`,
			`PUT /pets/{id}: plugin transform (/paths/~1pets~1{id}/put/x-wasmgate-integration): `},
		{"directive in a template, the reason", `application/json: '{"updated": $input.json(''$.data'')}'`, `application/json: '#set($a = 1)$a'`,
			`templates["application/json"]: line 1, column 1: #set is not supported`},
		{"bad pattern", `- pattern: 5\d\d`, `- pattern: "5\\d("`, "/x-wasmgate-integration/transform/responses/2/pattern: bad pattern"},
		{"managed header", "x-lit: \"'literal value'\"", "content-length: \"'1'\"", `request.headers: "content-length" is managed by the gateway and cannot be mapped`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(transformDoc(up.URL), tt.from, tt.to, 1)
			if doc == transformDoc(up.URL) {
				t.Fatalf("%q is not in the document", tt.from)
			}
			api, err := config.Parse("test.yaml", []byte(doc))
			if err == nil {
				_, err = e.gw.Build(context.Background(), api, "d-2")
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want an error mentioning %q, got %v", tt.want, err)
			}
			if r := do(t, nil, "GET", e.base+"/dev/pets/7", nil); r.status != 200 {
				t.Fatalf("serving broke: %d", r.status)
			}
		})
	}
}

// TestHTTPTransformLargeBody: the transform plugin makes the gateway
// buffer bodies. A 1 MiB body without a template reaches the upstream
// intact; a 1 MiB JSON body through a template arrives templated (the
// transform runs under the integration's timeout).
func TestHTTPTransformLargeBody(t *testing.T) {
	up := newRecordingUpstream(t)
	e := startGateway(t, transformDoc(up.URL), nil)
	s := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	r := do(t, nil, "POST", e.base+"/dev/notes", strings.NewReader(s), "Content-Type", "text/plain")
	got, _ := up.last()
	if r.status != 200 || r.body != `{"ok":true}` || got.Body != s || got.ContentLength != int64(len(s)) {
		t.Errorf("1 MiB passed through: %d %s; upstream got %d bytes (Content-Length %d)", r.status, r.body, len(got.Body), got.ContentLength)
	}

	r = do(t, nil, "POST", e.base+"/dev/notes", strings.NewReader(`{"s":"`+s+`"}`), "Content-Type", "application/json")
	if got, _ := up.last(); r.status != 200 || got.Body != `{"note": {"s":"`+s+`"}, "by": ""}` {
		t.Errorf("1 MiB JSON templated: %d; upstream got %.100s... (%d bytes)", r.status, got.Body, len(got.Body))
	}
	r = do(t, nil, "POST", e.base+"/dev/notes", strings.NewReader(`{"small":1}`), "Content-Type", "application/json")
	if got, _ := up.last(); r.status != 200 || got.Body != `{"note": {"small":1}, "by": ""}` {
		t.Errorf("after a large body: %d %s; upstream got %s", r.status, r.body, got.Body)
	}
}
