package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestServerSentEventsUnbuffered: events reach the client as the upstream
// sends them (each one before the next is even written), through a plugin
// that does not read bodies.
func TestServerSentEventsUnbuffered(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: event %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-time.After(5 * time.Second):
				return
			}
		}
	}))
	defer up.Close()
	defer close(next)
	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: sse, version: "1"}
paths:
  /events:
    get:
      x-wasmgate-pipeline: [{plugin: template, config: {header: x-demo, value: "1"}}]
      x-wasmgate-integration: {type: http_proxy, uri: "%s/events"}
      responses: {"200": {description: events}}
`, up.URL), nil)
	r, err := http.Get(e.base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	br := bufio.NewReader(r.Body)
	for i := 0; i < 3; i++ {
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			br.ReadString('\n') // the blank line ending the event
			got <- line
		}()
		select {
		case line := <-got:
			if want := fmt.Sprintf("data: event %d", i); strings.TrimSpace(line) != want {
				t.Fatalf("event %d: %q", i, line)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("event %d did not arrive while the upstream waited: the response is buffered", i)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
}
