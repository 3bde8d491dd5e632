package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestExportPinsAuthorizerPlugins: a custom authorizer's plugin is
// resolved, recorded and pinned like the pipeline's, and the export names
// its digest (the stage's pin included).
func TestExportPinsAuthorizerPlugins(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	bin := templateWasm(t)
	v1 := e.push("template", "1.0.0", bin)
	v2 := e.push("template", "2.0.0", variant(bin, "2"))
	doc := fmt.Sprintf(`openapi: 3.0.3
info: {title: demo, version: "1"}
x-wasmgate-stages:
  - name: prod
components:
  securitySchemes:
    auth:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer: {type: token}
      x-wasmgate-plugin: {plugin: template@1.0.0, config: {header: x-a, value: a}}
paths:
  /hello:
    get:
      security: [{auth: []}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/hello"}
      responses: {"200": {description: ok}}
`, e.up.URL)
	d := e.deploy([]byte(doc), "prod")
	if len(d.Plugins) != 1 || d.Plugins[0].Ref != "template@1.0.0" || d.Plugins[0].Digest != v1.Digest {
		t.Fatalf("recorded plugins %+v", d.Plugins)
	}
	out, err := e.m.Export(d.ID, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "plugin: template@"+v1.Digest) {
		t.Fatalf("the export does not pin the authorizer:\n%s", out)
	}
	if _, err := e.m.Pin(ctx, "prod", "template", "2.0.0", "test"); err != nil {
		t.Fatal(err)
	}
	if out, err = e.m.Export("", "prod", ""); err != nil || !strings.Contains(string(out), "plugin: template@"+v2.Digest) {
		t.Fatalf("the stage's export does not pin its authorizer pin (%v):\n%s", err, out)
	}
}
