package gateway

import (
	"reflect"
	"testing"
)

func TestRouterMostSpecificMatch(t *testing.T) {
	var r Router
	for _, rt := range []struct{ m, t string }{
		{"GET", "/pets"},
		{"POST", "/pets"},
		{"GET", "/pets/{id}"},
		{"GET", "/pets/mine"},
		{"DELETE", "/pets/{id}"},
		{"GET", "/pets/{id}/photos/{photo}"},
		{"ANY", "/files/{proxy+}"},
		{"GET", "/files/readme"},
		{"GET", "/"},
		{"ANY", "/{proxy+}"},
	} {
		if err := r.Add(&Route{Method: rt.m, Template: rt.t}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		method, path string
		template     string
		params       []Param
		allow        string
	}{
		{"GET", "/pets", "/pets", nil, ""},
		{"GET", "/pets/", "/pets", nil, ""},
		{"POST", "/pets", "/pets", nil, ""},
		{"GET", "/pets/42", "/pets/{id}", []Param{{"id", "42"}}, ""},
		{"GET", "/pets/mine", "/pets/mine", nil, ""},
		{"DELETE", "/pets/mine", "/pets/{id}", []Param{{"id", "mine"}}, ""},
		{"GET", "/pets/a%20b", "/pets/{id}", []Param{{"id", "a b"}}, ""},
		{"GET", "/pets/7/photos/x", "/pets/{id}/photos/{photo}", []Param{{"id", "7"}, {"photo", "x"}}, ""},
		{"PUT", "/files/a/b/c", "/files/{proxy+}", []Param{{"proxy", "a/b/c"}}, ""},
		{"GET", "/files/readme", "/files/readme", nil, ""},
		{"POST", "/files/readme", "/files/{proxy+}", []Param{{"proxy", "readme"}}, ""},
		{"GET", "/", "/", nil, ""},
		{"GET", "/other/thing", "/{proxy+}", []Param{{"proxy", "other/thing"}}, ""},
		{"HEAD", "/pets", "/pets", nil, ""},
		// Greedy catch-all also catches what a more specific template
		// rejects by method.
		{"PATCH", "/pets/1", "/{proxy+}", []Param{{"proxy", "pets/1"}}, ""},
	}
	for _, tt := range tests {
		rt, params, allow := r.Match(tt.method, tt.path, nil)
		if rt == nil {
			t.Errorf("%s %s: no match (allow %q)", tt.method, tt.path, allow)
			continue
		}
		if rt.Template != tt.template || !reflect.DeepEqual(params, tt.params) {
			t.Errorf("%s %s: got %s %v, want %s %v", tt.method, tt.path, rt.Template, params, tt.template, tt.params)
		}
	}
}

func TestRouter404And405(t *testing.T) {
	var r Router
	for _, rt := range []struct{ m, t string }{{"GET", "/pets"}, {"POST", "/pets"}, {"GET", "/pets/{id}"}} {
		if err := r.Add(&Route{Method: rt.m, Template: rt.t}); err != nil {
			t.Fatal(err)
		}
	}
	if rt, _, allow := r.Match("DELETE", "/pets", nil); rt != nil || allow != "GET, POST" {
		t.Fatalf("405: %v %q", rt, allow)
	}
	for _, p := range []string{"/nope", "/pets/1/2", "//pets", ""} {
		if rt, _, allow := r.Match("GET", p, nil); rt != nil && p != "" || allow != "" {
			t.Errorf("%q: want 404, got %v %q", p, rt, allow)
		}
	}
}

func TestRouterRejectsBadTemplates(t *testing.T) {
	tests := []string{"pets", "/a//b", "/files/{proxy+}/x", "/a{b}", "/{}", "/x/{a}"}
	var r Router
	if err := r.Add(&Route{Method: "GET", Template: "/x/{b}"}); err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range tests {
		if err := r.Add(&Route{Method: "GET", Template: tmpl}); err == nil {
			t.Errorf("%q: want an error", tmpl)
		}
	}
	if err := r.Add(&Route{Method: "GET", Template: "/x/{b}"}); err == nil {
		t.Error("duplicate route accepted")
	}
}

func BenchmarkRouterMatch(b *testing.B) {
	var r Router
	for _, tmpl := range []string{"/pets", "/pets/{id}", "/pets/{id}/photos/{photo}", "/users/{id}", "/orders", "/orders/{id}", "/{proxy+}"} {
		r.Add(&Route{Method: "GET", Template: tmpl})
	}
	params := make([]Param, 0, 4)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rt, p, _ := r.Match("GET", "/pets/42/photos/7", params[:0])
		if rt == nil || len(p) != 2 {
			b.Fatal("no match")
		}
	}
}
