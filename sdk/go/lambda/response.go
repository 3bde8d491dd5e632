package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Response is a Lambda proxy response.
type Response struct {
	// StatusCode is the HTTP status, 200..599.
	StatusCode int `json:"statusCode"`
	// Headers are single-value response headers.
	Headers map[string]string `json:"headers,omitempty"`
	// MultiValueHeaders are response headers with several values; for a
	// name also in Headers, these win.
	MultiValueHeaders map[string][]string `json:"multiValueHeaders,omitempty"`
	// Cookies become Set-Cookie headers, one each (payload 2.0 style,
	// accepted with 1.0 too).
	Cookies []string `json:"cookies,omitempty"`
	// Body is the response body, base64-encoded when IsBase64Encoded.
	Body            string `json:"body,omitempty"`
	IsBase64Encoded bool   `json:"isBase64Encoded,omitempty"`
}

// Text returns a text/plain response.
func Text(status int, body string) *Response {
	return &Response{StatusCode: status, Headers: map[string]string{"content-type": "text/plain; charset=utf-8"}, Body: body}
}

// JSON returns a response whose body is v encoded as JSON.
func JSON(status int, v any) (*Response, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("lambda: encoding the response body: %w", err)
	}
	return &Response{
		StatusCode: status,
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       string(bytes.TrimSuffix(b.Bytes(), []byte("\n"))),
	}, nil
}

// Binary returns a response with a binary body (sent base64-encoded in the
// proxy response, decoded by the gateway).
func Binary(status int, contentType string, body []byte) *Response {
	return &Response{
		StatusCode:      status,
		Headers:         map[string]string{"content-type": contentType},
		Body:            base64.StdEncoding.EncodeToString(body),
		IsBase64Encoded: true,
	}
}

// httpResponse is what the plugin sends: a local response.
type httpResponse struct {
	status  int
	headers [][2]string
	body    []byte
}

// errorResponse is API Gateway's answer to a failed or malformed function.
func errorResponse() *httpResponse {
	return &httpResponse{
		status:  502,
		headers: [][2]string{{"content-type", "application/json"}},
		body:    []byte(`{"message":"Internal server error"}`),
	}
}

// hopHeaders are connection-level headers a function cannot set; the
// gateway computes them.
var hopHeaders = map[string]bool{
	"connection": true, "content-length": true, "keep-alive": true,
	"proxy-connection": true, "transfer-encoding": true, "upgrade": true, "te": true, "trailer": true,
}

// toHTTP validates a proxy response and converts it.
func (r *Response) toHTTP() (*httpResponse, error) {
	if r == nil {
		return nil, fmt.Errorf("the handler returned no response and no error")
	}
	if r.StatusCode < 200 || r.StatusCode > 599 {
		return nil, fmt.Errorf("statusCode %d is not a final HTTP status (200..599)", r.StatusCode)
	}
	out := &httpResponse{status: r.StatusCode}
	add := func(name, value string) error {
		if !validHeaderName(name) {
			return fmt.Errorf("header name %q is not valid (an HTTP token, not a pseudo-header)", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return fmt.Errorf("header %q: the value contains CR, LF or NUL", name)
		}
		if hopHeaders[name] {
			return nil
		}
		out.headers = append(out.headers, [2]string{name, value})
		return nil
	}
	// Names are case-insensitive: merge by lower-case name, in name order;
	// multiValueHeaders win for a name in both (API Gateway's rule).
	merged := map[string][]string{}
	for name, v := range r.Headers {
		merged[strings.ToLower(name)] = []string{v}
	}
	fromMulti := map[string]bool{}
	for _, name := range sortedKeys(r.MultiValueHeaders) {
		ln := strings.ToLower(name)
		if !fromMulti[ln] {
			merged[ln] = nil
			fromMulti[ln] = true
		}
		merged[ln] = append(merged[ln], r.MultiValueHeaders[name]...)
	}
	for _, name := range sortedKeys(merged) {
		for _, v := range merged[name] {
			if err := add(name, v); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range r.Cookies {
		if err := add("set-cookie", c); err != nil {
			return nil, err
		}
	}
	if r.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return nil, fmt.Errorf("isBase64Encoded is true but the body is not base64: %w", err)
		}
		out.body = b
	} else {
		out.body = []byte(r.Body)
	}
	if len(out.body) > 0 && !hasHeader(out.headers, "content-type") {
		out.headers = append(out.headers, [2]string{"content-type", "application/json"})
	}
	return out, nil
}

func hasHeader(h [][2]string, name string) bool {
	for _, p := range h {
		if p[0] == name {
			return true
		}
	}
	return false
}

// parseResponse reads a handler's proxy response JSON. With payload 2.0,
// valid JSON that is not an object with a statusCode is the body of a 200
// application/json response (API Gateway's inference).
func parseResponse(data []byte, version string) (*Response, error) {
	trimmed := bytes.TrimSpace(data)
	var fields map[string]json.RawMessage
	objErr := json.Unmarshal(trimmed, &fields)
	_, hasStatus := fields["statusCode"]
	if version == V2 && (objErr != nil || !hasStatus) {
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("the response is not valid JSON")
		}
		return &Response{StatusCode: 200, Headers: map[string]string{"content-type": "application/json"}, Body: string(trimmed)}, nil
	}
	if objErr != nil {
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("the response is not valid JSON")
		}
		return nil, fmt.Errorf("the response is %w; want {\"statusCode\":200,\"headers\":{},\"body\":\"...\"}", errNotObject)
	}
	if !hasStatus {
		return nil, fmt.Errorf(`the response has no "statusCode"`)
	}
	r := &Response{}
	var err error
	if r.StatusCode, err = jsonInt(fields["statusCode"]); err != nil {
		return nil, fmt.Errorf(`"statusCode": %w`, err)
	}
	if raw, ok := fields["headers"]; ok && !isNull(raw) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf(`"headers" must be an object of strings: %w`, err)
		}
		r.Headers = make(map[string]string, len(m))
		for k, v := range m {
			s, err := jsonScalar(v)
			if err != nil {
				return nil, fmt.Errorf(`"headers": %q: %w`, k, err)
			}
			r.Headers[k] = s
		}
	}
	if raw, ok := fields["multiValueHeaders"]; ok && !isNull(raw) {
		var m map[string][]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf(`"multiValueHeaders" must be an object of string lists: %w`, err)
		}
		r.MultiValueHeaders = make(map[string][]string, len(m))
		for k, vs := range m {
			for _, v := range vs {
				s, err := jsonScalar(v)
				if err != nil {
					return nil, fmt.Errorf(`"multiValueHeaders": %q: %w`, k, err)
				}
				r.MultiValueHeaders[k] = append(r.MultiValueHeaders[k], s)
			}
		}
	}
	if raw, ok := fields["cookies"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &r.Cookies); err != nil {
			return nil, fmt.Errorf(`"cookies" must be a list of strings: %w`, err)
		}
	}
	if raw, ok := fields["body"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			return nil, fmt.Errorf(`"body" must be a string (encode JSON bodies with JSON.stringify / json.Marshal): %w`, err)
		}
	}
	if raw, ok := fields["isBase64Encoded"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &r.IsBase64Encoded); err != nil {
			return nil, fmt.Errorf(`"isBase64Encoded" must be a boolean: %w`, err)
		}
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonInt reads an integer, also from a numeric string ("200").
func jsonInt(raw json.RawMessage) (int, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		if i, err := strconv.Atoi(n.String()); err == nil {
			return i, nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("must be an integer, not %s", truncate(string(raw), 40))
}

// jsonScalar reads a header value: a string, number or boolean.
func jsonScalar(raw json.RawMessage) (string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return v.String(), nil
	case bool:
		return strconv.FormatBool(v), nil
	}
	return "", fmt.Errorf("must be a string, not %s", truncate(string(raw), 40))
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
