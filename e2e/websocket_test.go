package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestWebSocket: a WebSocket echo through the gateway, on a route without
// plugins and one whose plugin sees the handshake (and may refuse it);
// messages both ways, several of them, until the client closes.
func TestWebSocket(t *testing.T) {
	var sawHeader string
	up := httptest.NewServer(websocket.Handler(func(c *websocket.Conn) {
		sawHeader = c.Request().Header.Get("X-Demo")
		_, _ = io.Copy(c, c) // echo
	}))
	defer up.Close()
	wsUp := "http" + strings.TrimPrefix(up.URL, "http")
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: ws, version: "1"}
paths:
  /echo:
    get:
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/echo", timeout_ms: 2000}
      responses: {"101": {description: switching}}
  /echo-plugin:
    get:
      x-wasmgate-pipeline: [{plugin: template, config: {header: x-demo, value: from-plugin}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/echo", timeout_ms: 2000}
      responses: {"101": {description: switching}}
  /denied:
    get:
      x-wasmgate-pipeline: [{plugin: deny}]
      x-wasmgate-integration: {type: http_proxy, uri: "%[1]s/echo"}
      responses: {"101": {description: switching}}
`, wsUp), nil)
	ws := "ws" + strings.TrimPrefix(e.base, "http")
	for _, path := range []string{"/echo", "/echo-plugin"} {
		c, err := websocket.Dial(ws+path, "", e.base)
		if err != nil {
			t.Fatalf("%s: dial: %v", path, err)
		}
		// Longer than the integration timeout (2 s bounds the handshake,
		// not the connection).
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("hello %d via %s", i, path)
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 256)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != msg {
				t.Fatalf("%s: echo %q, %v; want %q", path, buf[:n], err, msg)
			}
			if i == 1 {
				time.Sleep(2500 * time.Millisecond)
			}
		}
		c.Close()
	}
	if sawHeader != "from-plugin" {
		t.Errorf("the upstream saw x-demo %q: the plugin's request header edit was lost", sawHeader)
	}
	// A plugin refusing the handshake: its answer, no upgrade.
	req, _ := http.NewRequest("GET", e.base+"/denied", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode == http.StatusSwitchingProtocols || r.StatusCode < 400 {
		t.Fatalf("denied handshake: %d", r.StatusCode)
	}
}
