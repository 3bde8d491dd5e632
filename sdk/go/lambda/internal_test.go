package lambda

import (
	"reflect"
	"testing"
)

func TestStripStage(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, stage, template, want string }{
		{"/prod/pets/1", "prod", "/pets/{id}", "/pets/1"},
		{"/prod", "prod", "/", "/"},
		{"/pets/1", "prod", "/pets/{id}", "/pets/1"}, // stage chosen by host
		{"/prod/x", "prod", "/prod/{id}", "/prod/x"}, // the route starts with the stage name
		{"/production/x", "prod", "/production/{id}", "/production/x"},
		{"/p", "", "/p", "/p"},
	}
	for _, tt := range tests {
		if got := stripStage(tt.path, tt.stage, tt.template); got != tt.want {
			t.Errorf("stripStage(%q, %q, %q) = %q, want %q", tt.path, tt.stage, tt.template, got, tt.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"203.0.113.9:5555": "203.0.113.9", "[2001:db8::1]:443": "2001:db8::1", "2001:db8::1": "2001:db8::1", "10.0.0.1": "10.0.0.1", "": ""} {
		if got := sourceIP(in); got != want {
			t.Errorf("sourceIP(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"api.example.com:8443": "api", "[::1]:80": "[::1]", "localhost": "localhost"} {
		if got := domainPrefix(hostOnly(in)); got != want {
			t.Errorf("domainPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	if got := templateParams("/a/{id}/b/{proxy+}/{}/{x"); !reflect.DeepEqual(got, []string{"id", "proxy"}) {
		t.Errorf("templateParams = %q", got)
	}
	for _, tt := range []struct {
		pattern, mt string
		want        bool
	}{{"*/*", "a/b", true}, {"image/*", "image/png", true}, {"image/*", "imagex/png", false}, {"image/png", "image/png", true}, {"image/png", "image/gif", false}} {
		if got := mediaTypeMatches(tt.pattern, tt.mt); got != tt.want {
			t.Errorf("mediaTypeMatches(%q, %q) = %v", tt.pattern, tt.mt, got)
		}
	}
	if got := parseQuery("a=1&&a=2&b&%zz=%&c=%20"); !reflect.DeepEqual(got, map[string][]string{"a": {"1", "2"}, "b": {""}, "%zz": {"%"}, "c": {" "}}) {
		t.Errorf("parseQuery = %q", got)
	}
}
