package gateway

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/host/config"
)

func TestGatewayResponses(t *testing.T) {
	api, err := config.Parse("t.yaml", []byte(`openapi: 3.0.3
info: {title: t, version: "1"}
x-wasmgate-integration: {type: mock}
paths: {}
x-amazon-apigateway-gateway-responses:
  DEFAULT_4XX:
    statusCode: "400"
    responseParameters:
      gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
      gatewayresponse.header.X-Stage: stageVariables.tenant
      gatewayresponse.header.X-Q: method.request.querystring.q
    responseTemplates:
      application/json: '{"message":$context.error.messageString,"type":"$context.error.responseType","id":"$context.requestId"}'
  RESOURCE_NOT_FOUND:
    statusCode: 410
    responseTemplates:
      text/plain: 'no $context.httpMethod $context.path in ${context.stage}'
  ACCESS_DENIED:
    responseParameters: {gatewayresponse.header.X-Who: context.authorizer.principalId}
    responseTemplates:
      application/json: '{"who":"$context.authorizer.principalId","tier":"$context.authorizer.tier"}'
`))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := compileResponses(api)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{}
	for _, c := range []struct {
		name, typ     string
		status        int
		msg           string
		wantStatus    int
		wantBody      string
		wantHeaders   map[string]string
		noCustomizing bool
	}{
		{name: "DEFAULT_4XX for 405, its status ignored", status: 405, msg: `Method "Not" Allowed`, wantStatus: 405,
			wantBody:    `{"message":"Method \"Not\" Allowed","type":"DEFAULT_4XX","id":"req-1"}`,
			wantHeaders: map[string]string{"Access-Control-Allow-Origin": "*", "X-Stage": "acme", "X-Q": "a b", "Content-Type": "application/json", "X-Request-Id": "req-1"}},
		{name: "DEFAULT_4XX for 401 UNAUTHORIZED", typ: respUnauthorized, status: 401, msg: "Unauthorized", wantStatus: 401,
			wantBody: `{"message":"Unauthorized","type":"UNAUTHORIZED","id":"req-1"}`},
		{name: "RESOURCE_NOT_FOUND", status: 404, msg: "Not Found", wantStatus: 410,
			wantBody: `no GET /prod/x in prod`, wantHeaders: map[string]string{"Content-Type": "text/plain", "Access-Control-Allow-Origin": ""}},
		{name: "ACCESS_DENIED with the principal", typ: respAccessDenied, status: 403, msg: "Forbidden", wantStatus: 403,
			wantBody: `{"who":"alice","tier":"gold"}`, wantHeaders: map[string]string{"X-Who": "alice"}},
		{name: "5XX: built in", status: 502, msg: "Bad Gateway", wantStatus: 502,
			wantBody: `{"message":"Bad Gateway","requestId":"req-1"}` + "\n", wantHeaders: map[string]string{"Content-Type": "application/json"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := testReqCtx("GET", "/prod/x?q=a+b")
			rc.snap.responses = compiled
			rc.auth = &authDecision{principal: "alice", context: [][2]string{{"tier", "gold"}}}
			w := httptest.NewRecorder()
			if c.typ != "" {
				g.writeGatewayResponse(w, rc, c.typ, c.status, c.msg)
			} else {
				g.writeGatewayError(w, rc, c.status, c.msg)
			}
			if w.Code != c.wantStatus || w.Body.String() != c.wantBody {
				t.Errorf("%d %s; want %d %s", w.Code, w.Body, c.wantStatus, c.wantBody)
			}
			for k, v := range c.wantHeaders {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if cl := w.Header().Get("Content-Length"); cl == "" || cl != itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", cl, w.Body.Len())
			}
		})
	}
	// Without customization: the built-in response, as before.
	rc := testReqCtx("GET", "/prod/x")
	w := httptest.NewRecorder()
	g.writeGatewayError(w, rc, http.StatusNotFound, "Not Found")
	if w.Code != 404 || !strings.Contains(w.Body.String(), `"requestId":"req-1"`) {
		t.Errorf("built-in: %d %s", w.Code, w.Body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
