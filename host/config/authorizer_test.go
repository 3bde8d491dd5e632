package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseIdentitySource(t *testing.T) {
	for _, c := range []struct {
		in   string
		want IdentitySource
		ok   bool
	}{
		{"method.request.header.Authorization", IdentitySource{"method.request.header.Authorization", IdentityHeader, "Authorization"}, true},
		{"method.request.querystring.key", IdentitySource{"method.request.querystring.key", IdentityQuery, "key"}, true},
		{"stageVariables.tenant", IdentitySource{"stageVariables.tenant", IdentityStageVariable, "tenant"}, true},
		{"context.identity.sourceIp", IdentitySource{"context.identity.sourceIp", IdentityContext, "identity.sourceIp"}, true},
		{"context.requestId", IdentitySource{}, false}, // unique per request: nothing to cache by
		{"method.request.header.", IdentitySource{}, false},
		{"method.request.path.id", IdentitySource{}, false},
		{"method.request.header.a b", IdentitySource{}, false},
		{"", IdentitySource{}, false},
	} {
		got, ok := parseIdentitySource(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseIdentitySource(%q) = %+v, %t; want %+v, %t", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseGatewayTemplate(t *testing.T) {
	lit := func(s string) TemplatePart { return TemplatePart{Text: s} }
	v := func(s string) TemplatePart { return TemplatePart{Var: s} }
	for _, c := range []struct {
		in   string
		want []TemplatePart
		err  string
	}{
		{`{"message":$context.error.messageString}`, []TemplatePart{lit(`{"message":`), v("error.messageString"), lit("}")}, ""},
		{`id ${context.requestId}, $!context.stage. $!{context.path}`, []TemplatePart{lit("id "), v("requestId"), lit(", "), v("stage"), lit(". "), v("path")}, ""},
		{`$context.authorizer.principalId/$context.authorizer.tier`, []TemplatePart{v("authorizer.principalId"), lit("/"), v("authorizer.tier")}, ""},
		{`cost: $5 and $ alone, $$`, []TemplatePart{lit("cost: $5 and $ alone, $$")}, ""},
		{``, nil, ""},
		{`$input.body`, nil, "$input.body is not supported"},
		{`$context.error.validationErrorString`, nil, "$context.error.validationErrorString is not supported"},
		{`$context.authorizer.`, nil, "$context.authorizer is not supported"},
		{`${context.stage`, nil, "unterminated ${context.stage"},
		{`#set($x = 1)$x`, nil, "$x is not supported"},
	} {
		got, err := ParseGatewayTemplate(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseGatewayTemplate(%q): error %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseGatewayTemplate(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
}

// TestExportPinsAuthorizers: Export writes the authorizers' plugin
// references (as the deploy store pins them) into their security schemes,
// in either format.
func TestExportPinsAuthorizers(t *testing.T) {
	api, err := Load("testdata/valid/authorizers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	pinned := *api
	pinned.Authorizers = nil
	for _, a := range api.Authorizers {
		c := *a
		c.Plugin.Ref, c.Plugin.Version, c.Plugin.Digest = c.Plugin.Name+"@"+digest, "", digest
		pinned.Authorizers = append(pinned.Authorizers, &c)
	}
	for _, format := range []string{FormatOAS3, FormatSwagger2} {
		out, err := Export(&pinned, format)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("exported.yaml", out)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, out)
		}
		if len(back.Authorizers) != len(api.Authorizers) {
			t.Fatalf("%s: %d authorizers", format, len(back.Authorizers))
		}
		for i, a := range back.Authorizers {
			want := api.Authorizers[i]
			if a.Plugin.Digest != digest || a.Plugin.Name != want.Plugin.Name || string(a.Plugin.Config) != string(want.Plugin.Config) ||
				a.TTL != want.TTL || !reflect.DeepEqual(a.IdentitySources, want.IdentitySources) {
				t.Errorf("%s: %s: %+v", format, a.Name, a)
			}
		}
	}
}
