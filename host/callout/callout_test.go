package callout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/host/wasm"
)

func TestHTTPCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/keys":
			w.Header().Set("X-Host", r.Host)
			w.Header().Set("X-Test", r.Header.Get("x-test"))
			w.Write([]byte(`{"keys":[]}`))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 2000)))
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/redirect":
			http.Redirect(w, r, "/keys", http.StatusFound)
		}
	}))
	defer srv.Close()
	c := New(Options{MaxBody: 1000})
	hdr := func(path string) [][2]string {
		return [][2]string{{":method", "GET"}, {":path", path}, {":authority", "idp.test"}, {"x-test", "1"}}
	}
	res, err := c.HTTPCall(context.Background(), srv.URL, hdr("/keys"), nil, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f := wasm.NewFields(res.Headers)
	if st, _ := f.Get(":status"); st != "200" || string(res.Body) != `{"keys":[]}` {
		t.Fatalf("got %v %q", res.Headers, res.Body)
	}
	if h, _ := f.Get("x-host"); h != "idp.test" {
		t.Fatalf(":authority was not the Host: %q", h)
	}
	if h, _ := f.Get("x-test"); h != "1" {
		t.Fatalf("header not sent: %q", h)
	}
	if res, err := c.HTTPCall(context.Background(), srv.URL, hdr("/redirect"), nil, nil, time.Second); err != nil || res.Headers[0][1] != "302" {
		t.Fatalf("redirect: %v %v", res, err)
	}
	if _, err := c.HTTPCall(context.Background(), srv.URL, hdr("/big"), nil, nil, time.Second); err == nil || !strings.Contains(err.Error(), "larger than 1000") {
		t.Fatalf("big body: %v", err)
	}
	if _, err := c.HTTPCall(context.Background(), srv.URL, hdr("/slow"), nil, nil, 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v", err)
	}
}

func TestUpstreams(t *testing.T) {
	any := New(Options{})
	for up, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "https://idp.example.com/": true, "https://idp.example.com/x": false,
		"ftp://h": false, "idp": false, "https://u:p@h": false, "https://h?q=1": false, "": false,
	} {
		if got := any.HasUpstream(up); got != want {
			t.Errorf("HasUpstream(%q) = %v, want %v", up, got, want)
		}
	}
	only := New(Options{Allow: []string{"https://idp.example.com/"}})
	if !only.HasUpstream("https://idp.example.com") || only.HasUpstream("https://evil.example.com") {
		t.Fatal("allow list not applied")
	}
	if _, err := only.HTTPCall(context.Background(), "https://evil.example.com", nil, nil, nil, time.Second); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("not allowed: %v", err)
	}
}
