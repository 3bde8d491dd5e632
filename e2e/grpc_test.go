package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rawCodec sends []byte messages as they are: a gRPC service without
// generated code.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

func init() { encoding.RegisterCodec(rawCodec{}) }

// echoService: Unary echoes a message (or fails with NOT_FOUND for
// "missing", to check the status trailers); Stream echoes every message
// upper-cased until the client closes.
var echoService = grpc.ServiceDesc{
	ServiceName: "wasmgate.test.Echo",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var in []byte
			if err := dec(&in); err != nil {
				return nil, err
			}
			if string(in) == "missing" {
				return nil, status.Error(codes.NotFound, "no such thing")
			}
			grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "kept"))
			out := append([]byte("echo: "), in...)
			return &out, nil
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName: "Stream", ServerStreams: true, ClientStreams: true,
		Handler: func(_ any, s grpc.ServerStream) error {
			for {
				var in []byte
				if err := s.RecvMsg(&in); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
				out := []byte(strings.ToUpper(string(in)))
				if err := s.SendMsg(&out); err != nil {
					return err
				}
			}
		},
	}},
}

// TestGRPC: unary and bidirectional streaming gRPC calls through the
// gateway (h2c in front, an h2c:// integration behind), with the status
// and trailers of the upstream preserved.
func TestGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&echoService, nil)
	go srv.Serve(ln)
	defer srv.Stop()

	e := startGateway(t, fmt.Sprintf(`openapi: 3.0.3
info: {title: grpc, version: "1"}
paths:
  /wasmgate.test.Echo/{method}:
    parameters: [{name: method, in: path, required: true, schema: {type: string}}]
    post:
      x-wasmgate-pipeline: [{plugin: template, config: {header: x-via, value: wasmgate}}]
      x-wasmgate-integration: {type: http_proxy, uri: "h2c://%s/wasmgate.test.Echo/{method}"}
      responses: {"200": {description: ok}}
`, ln.Addr()), nil)
	conn, err := grpc.NewClient(strings.TrimPrefix(e.base, "http://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	in, out := []byte("hi"), []byte(nil)
	var trailer metadata.MD
	if err := conn.Invoke(ctx, "/wasmgate.test.Echo/Unary", &in, &out, grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("unary: %v", err)
	}
	if string(out) != "echo: hi" || strings.Join(trailer.Get("x-trailer"), "") != "kept" {
		t.Fatalf("unary: %q, trailer %v", out, trailer)
	}
	missing := []byte("missing")
	if err := conn.Invoke(ctx, "/wasmgate.test.Echo/Unary", &missing, &out); status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), "no such thing") {
		t.Fatalf("a gRPC error through the gateway: %v, want NotFound", err)
	}

	stream, err := conn.NewStream(ctx, &echoService.Streams[0], "/wasmgate.test.Echo/Stream")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"one", "two", "three"} {
		msg := []byte(m)
		if err := stream.SendMsg(&msg); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := stream.RecvMsg(&got); err != nil || string(got) != strings.ToUpper(m) {
			t.Fatalf("stream: %q %v, want %q (each reply before the next message: no buffering)", got, err, strings.ToUpper(m))
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var end []byte
	if err := stream.RecvMsg(&end); err != io.EOF {
		t.Fatalf("stream end: %v, want EOF (status OK in the trailers)", err)
	}
}
