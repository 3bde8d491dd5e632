package observe

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func testRecord() *Record {
	return &Record{
		RequestID: "abc-1", SourceIP: "10.0.0.7", UserAgent: "curl/8", Method: "GET",
		ResourcePath: "/pets/{id}", Path: "/prod/pets/7", Protocol: "HTTP/1.1", Status: 200,
		ResponseLength: 512, Start: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC),
		IntegrationLatency: 1500 * time.Microsecond, ResponseLatency: 2250 * time.Microsecond,
		Stage: "prod", DeploymentID: "d-7", APIKeyID: "k-1", CacheStatus: "miss",
		Plugins: []PluginTiming{{Name: "cache", Calls: 3, Duration: 120 * time.Microsecond}, {Name: "cors", Calls: 2, Duration: 30 * time.Microsecond}},
	}
}

func TestTemplateFormats(t *testing.T) {
	local := testRecord()
	local.IntegrationLatency, local.APIKeyID, local.Plugins, local.Error = -1, "", nil, "bad\nline"
	tests := []struct {
		name, format string
		rec          *Record
		want         string
	}{
		{"clf", "clf", testRecord(), `10.0.0.7 - - [04/Mar/2026:05:06:07 +0000] "GET /prod/pets/7 HTTP/1.1" 200 512 abc-1`},
		{"template", "$context.requestId $context.status", testRecord(), "abc-1 200"},
		{"every variable", "$context.identity.sourceIp|$context.identity.userAgent|$context.httpMethod|$context.resourcePath|$context.path|$context.protocol|$context.responseLength|$context.requestTimeEpoch|$context.integrationLatency|$context.responseLatency|$context.stage|$context.deploymentId|$context.apiKeyId|$context.identity.apiKeyId|$context.cacheStatus|$context.pluginLatency|$context.plugins.",
			testRecord(), "10.0.0.7|curl/8|GET|/pets/{id}|/prod/pets/7|HTTP/1.1|512|1772600767000|1.5|2.25|prod|d-7|k-1|k-1|miss|0.15|cache:0.12,cors:0.03."},
		{"missing values and escaping", `{"k":"$context.apiKeyId","i":"$context.integrationLatency","e":"$context.error.message","p":"$context.plugins"}`,
			local, `{"k":"-","i":"-","e":"bad\x0aline","p":"-"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(f.AppendText(nil, tc.rec)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseFormatErrors(t *testing.T) {
	for _, bad := range []string{"$context.nope", "no variables", "$context.status $context.requestid"} {
		if _, err := ParseFormat(bad); err == nil || !strings.Contains(err.Error(), "$context") {
			t.Errorf("%q: error %v, want one naming the $context variables", bad, err)
		}
	}
}

func TestJSONFormat(t *testing.T) {
	var buf bytes.Buffer
	zl := zerolog.New(&buf)
	writeJSON(&zl, testRecord())
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%s: %v", buf.String(), err)
	}
	want := map[string]any{
		"requestId": "abc-1", "sourceIp": "10.0.0.7", "httpMethod": "GET", "resourcePath": "/pets/{id}",
		"path": "/prod/pets/7", "protocol": "HTTP/1.1", "status": 200.0, "responseLength": 512.0,
		"requestTime": "04/Mar/2026:05:06:07 +0000", "requestTimeEpoch": 1772600767000.0,
		"integrationLatency": 1.5, "responseLatency": 2.25, "stage": "prod", "deploymentId": "d-7",
		"userAgent": "curl/8", "apiKeyId": "k-1", "cacheStatus": "miss", "pluginLatency": 0.15,
		"plugins": map[string]any{"cache": 0.12, "cors": 0.03},
	}
	for k, v := range want {
		if got, _ := json.Marshal(m[k]); string(got) != mustJSON(v) {
			t.Errorf("%s = %s, want %s", k, got, mustJSON(v))
		}
	}
	if len(m) != len(want) {
		t.Errorf("fields %v", m)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRedaction(t *testing.T) {
	var buf bytes.Buffer
	st := &Stage{capture: newCapture(&CaptureSettings{SampleRate: 1, RedactHeaders: []string{"X-Secret"}, RedactFields: []string{"password", "TOKEN"}}, &buf)}
	h := http.Header{"Authorization": {"Bearer a"}, "X-Secret": {"b"}, "Cookie": {"c=d"}, "X-Api-Key": {"e"}, "Accept": {"*/*"}, "Content-Type": {"application/json"}}
	st.WriteCapture(&Captured{
		Record: testRecord(), ReqHeader: h,
		ReqBody:    []byte(`{"a":[{"Token":"t1"},{"x":{"password":"p1"}}],"keep":1}`),
		RespHeader: http.Header{"Set-Cookie": {"s=1"}, "Content-Type": {"application/json"}},
		RespBody:   []byte(`{"token":"t2","pass`), RespTruncated: true,
	})
	out := buf.String()
	for _, secret := range []string{"Bearer a", `"b"`, "c=d", `"e"`, "t1", "p1", "t2", "s=1"} {
		if strings.Contains(out, secret) {
			t.Errorf("capture has %s: %s", secret, out)
		}
	}
	for _, keep := range []string{`"keep":1`, `"accept":["*/*"]`, `"responseBodyTruncated":true`, `"responseBodyOmitted"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("capture lacks %s: %s", keep, out)
		}
	}
}

type slowWriter struct {
	mu      sync.Mutex
	release chan struct{}
	buf     bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// A destination that does not take writes never blocks the writer: lines
// beyond the buffer are dropped and counted, never cut.
func TestAsyncWriterDropsWhenFull(t *testing.T) {
	dst := &slowWriter{release: make(chan struct{})}
	a := NewAsyncWriter("slow", dst, 100)
	line := []byte(strings.Repeat("x", 39) + "\n") // 40 bytes
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			a.Write(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Write blocked on a stuck destination")
	}
	if a.Dropped() < 7 {
		t.Errorf("dropped %d lines, want at least 7 of 10 (100-byte buffer, 40-byte lines)", a.Dropped())
	}
	close(dst.release)
	a.Close()
	got := dst.buf.String()
	if len(got)%40 != 0 || strings.Count(got, "\n") != int(10-a.Dropped()) {
		t.Errorf("written %q: want whole lines, %d of them", got, 10-a.Dropped())
	}
}

func TestObserverFileAndReconfigure(t *testing.T) {
	dir := t.TempDir()
	o, err := New(Options{Defaults: StageSettings{AccessLog: "off"}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	file := filepath.Join(dir, "sub", "prod.log")
	if err := o.Configure(map[string]StageSettings{"prod": {AccessLog: "$context.requestId $context.stage", AccessLogDest: file}}); err != nil {
		t.Fatal(err)
	}
	if o.Stage("dev").AccessLog() || !o.Stage("prod").AccessLog() {
		t.Fatal("dev takes the default (off), prod its own")
	}
	rec := testRecord()
	o.Stage("prod").LogAccess(rec)
	o.Flush()
	b, _ := os.ReadFile(file)
	if string(b) != "abc-1 prod\n" {
		t.Errorf("file: %q", b)
	}
	err = o.Configure(map[string]StageSettings{"prod": {AccessLog: "$context.bogus"}, "dev": {ExecLog: "loud"}})
	if err == nil || !strings.Contains(err.Error(), "stage prod") || !strings.Contains(err.Error(), "stage dev") {
		t.Fatalf("error %v, want both stages named", err)
	}
	if !o.Stage("prod").AccessLog() {
		t.Error("a stage whose new settings fail keeps its previous ones")
	}
}

func BenchmarkAccessLogJSON(b *testing.B) {
	a := NewAsyncWriter("discard", io.Discard, 0)
	defer a.Close()
	zl := zerolog.New(a)
	r := testRecord()
	b.ReportAllocs()
	for b.Loop() {
		writeJSON(&zl, r)
	}
}

func BenchmarkAccessLogCLF(b *testing.B) {
	a := NewAsyncWriter("discard", io.Discard, 0)
	defer a.Close()
	f, _ := ParseFormat(FormatCLF)
	st := &Stage{format: f, access: a}
	r := testRecord()
	b.ReportAllocs()
	for b.Loop() {
		st.LogAccess(r)
	}
}
