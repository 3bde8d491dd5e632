// Command request-validator is wasmgate's request validation policy, like
// API Gateway's request validators: it checks a request's parameters
// (path, query, header, cookie) and JSON body against the operation's
// OpenAPI schema, which the gateway hands it as the
// wasmgate.operation.schema property, and answers 400 with a precise
// message (415 for an undeclared content type, 413 for a body over the
// limit) before the integration is called. See README.md.
package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	sdk "github.com/wasmgate/wasmgate/sdk/go"
)

func main() {}

func init() {
	sdk.SetNewRootContext(func(uint32) sdk.RootContext { return &root{} })
}

// maxCached bounds the compiled operations an instance keeps; past it the
// cache starts over (deployments come and go; instances are recycled).
const maxCached = 512

type root struct {
	sdk.DefaultRootContext
	cfg      *config
	ops      map[string]*cached // by deployment, method and route template
	rejected sdk.Counter
	metrics  bool
}

// cached is one operation's compiled validators, or why there are none.
type cached struct {
	op  *operation // nil: no schema, or it did not compile
	err string
}

func (r *root) OnPluginStart(int) bool {
	data, err := sdk.GetPluginConfiguration()
	if err != nil && err != sdk.ErrNotFound {
		sdk.LogErrorf("request-validator: cannot read the configuration: %v", err)
		return false
	}
	if r.cfg, err = parseConfig(data); err != nil {
		sdk.LogErrorf("request-validator: %v", err)
		return false
	}
	hooks := sdk.HookRequestHeaders
	if r.cfg.bodyHooks() {
		hooks |= sdk.HookRequestBody | sdk.HookRequestTrailers
	}
	sdk.SetHooks(hooks)
	r.ops = map[string]*cached{}
	c, err := sdk.DefineCounterMetric("request_validator_rejected_total")
	r.rejected, r.metrics = c, err == nil
	return true
}

func (r *root) NewHTTPContext(uint32) sdk.HTTPContext { return &ctx{root: r} }

func prop(path ...string) string {
	v, _ := sdk.GetPropertyString(path...)
	return v
}

// operation returns the request's compiled operation, compiling it on
// the instance's first request to it.
func (r *root) operation(method string) *cached {
	key := prop("wasmgate", "deployment") + " " + method + " " + prop("wasmgate", "route", "template")
	if c, ok := r.ops[key]; ok {
		return c
	}
	c := &cached{}
	doc, err := sdk.GetProperty("wasmgate", "operation", "schema")
	switch {
	case err != nil:
		c.err = "the gateway gives no operation schema (wasmgate.operation.schema): " + err.Error()
	default:
		if c.op, err = compile(doc); err != nil {
			c.err = err.Error()
		}
	}
	if c.err != "" {
		sdk.LogErrorf("request-validator: %s: %s", key, c.err) // once per operation and instance
	}
	if len(r.ops) >= maxCached {
		clear(r.ops)
	}
	r.ops[key] = c
	return c
}

type ctx struct {
	sdk.DefaultHTTPContext
	root   *root
	schema *jsonschema.Schema // the body's, when it is to be validated
	body   bool               // the body phase has work: validate, or check presence
	need   bool               // a body is required
}

func (c *ctx) OnHTTPRequestHeaders(_ int, endOfStream bool) sdk.Action {
	cfg := c.root.cfg
	headers, err := sdk.GetHTTPRequestHeaders()
	if err != nil {
		sdk.LogErrorf("request-validator: reading the request headers: %v", err)
		return c.reply(500, `{"message":"Internal server error"}`)
	}
	hdr := make(map[string][]string, len(headers))
	for _, h := range headers {
		hdr[h[0]] = append(hdr[h[0]], h[1])
	}
	method := first(hdr[":method"])
	cop := c.root.operation(method)
	if cop.op == nil {
		if cfg.failOpen {
			return sdk.ActionContinue
		}
		return c.reply(500, `{"message":"Internal server error: the request validator has no schema for this operation"}`)
	}
	op := cop.op
	validateBody, validateParams := cfg.scope(op.validator)
	if validateParams && len(op.params) > 0 {
		if a, done := c.checkParams(op, hdr); done {
			return a
		}
	}
	if !validateBody || op.body == nil {
		return sdk.ActionContinue
	}
	c.need = op.body.required
	if endOfStream {
		if c.need {
			return c.invalidBody(problem{Message: "a request body is required"})
		}
		return sdk.ActionContinue
	}
	if n, err := strconv.ParseInt(first(hdr["content-length"]), 10, 64); err == nil && n > int64(cfg.maxBody) {
		return c.tooLarge()
	}
	ct := first(hdr["content-type"])
	if ct == "" {
		ct = "application/json" // API Gateway's default content type
	}
	m, ok := op.body.match(ct)
	if !ok {
		return c.reject(415, `{"message":"Unsupported Media Type"}`)
	}
	c.schema, c.body = m.schema, m.schema != nil || c.need
	return sdk.ActionContinue
}

// checkParams validates the parameters; done is true when it answered.
func (c *ctx) checkParams(op *operation, hdr map[string][]string) (sdk.Action, bool) {
	rawPath := first(hdr[":path"])
	_, rawQuery, _ := strings.Cut(rawPath, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil && query == nil {
		query = url.Values{}
	}
	req := &request{
		query:   query,
		headers: hdr,
		path: func(name string) (string, bool) {
			v, err := sdk.GetRouteParam(name)
			return v, err == nil
		},
	}
	req.cookies = parseCookies(hdr["cookie"])
	problems, missing := checkParams(op, req, c.root.cfg.maxErrors)
	if len(missing) > 0 {
		// API Gateway's wording, with the others' problems as details.
		return c.answer(400, answer{Message: "Missing required request parameters: [" + strings.Join(missing, ", ") + "]", Errors: problems}), true
	}
	if len(problems) > 0 {
		return c.answer(400, answer{Message: "Invalid request parameters", Errors: problems}), true
	}
	return sdk.ActionContinue, false
}

func (c *ctx) OnHTTPRequestBody(bodySize int, endOfStream bool) sdk.Action {
	if !c.body {
		return sdk.ActionContinue
	}
	if bodySize > c.root.cfg.maxBody {
		c.body = false
		return c.tooLarge()
	}
	if !endOfStream {
		return sdk.ActionPause // buffer until the whole body is here
	}
	return c.finish(bodySize)
}

func (c *ctx) OnHTTPRequestTrailers(int) sdk.Action {
	if !c.body {
		return sdk.ActionContinue
	}
	size, _ := sdk.GetPropertyInt64("request", "size")
	return c.finish(int(size))
}

// finish validates the whole body.
func (c *ctx) finish(size int) sdk.Action {
	c.body = false
	var data []byte
	if size > 0 {
		var err error
		if data, err = sdk.GetHTTPRequestBody(0, size); err != nil {
			sdk.LogErrorf("request-validator: reading the request body: %v", err)
			return c.reply(500, `{"message":"Internal server error"}`)
		}
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if c.need {
			return c.invalidBody(problem{Message: "a request body is required"})
		}
		return sdk.ActionContinue
	}
	if c.schema == nil {
		return sdk.ActionContinue
	}
	v, p := parseBody(data, c.root.cfg.maxDepth, c.root.cfg.maxValues)
	if p != nil {
		return c.invalidBody(*p)
	}
	if problems := schemaProblems(c.schema.Validate(v), c.root.cfg.maxErrors); len(problems) > 0 {
		return c.invalidBody(problems...)
	}
	return sdk.ActionContinue
}

// answer is the JSON body of a refusal.
type answer struct {
	Message string    `json:"message"`
	Errors  []problem `json:"errors,omitempty"`
}

func (c *ctx) invalidBody(problems ...problem) sdk.Action {
	return c.answer(400, answer{Message: "Invalid request body", Errors: problems})
}

func (c *ctx) tooLarge() sdk.Action {
	return c.reject(413, `{"message":"Request Too Long"}`)
}

func (c *ctx) answer(status uint32, a answer) sdk.Action {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "must be <= 100", not "\u003c="
	if err := enc.Encode(a); err != nil {
		return c.reject(status, `{"message":"Bad Request"}`)
	}
	return c.reject(status, strings.TrimSuffix(b.String(), "\n"))
}

// reject refuses the request and counts it.
func (c *ctx) reject(status uint32, body string) sdk.Action {
	if c.root.metrics {
		_ = c.root.rejected.Increment(1)
	}
	return c.reply(status, body)
}

func (c *ctx) reply(status uint32, body string) sdk.Action {
	_ = sdk.SendHTTPResponse(status, [][2]string{{"content-type", "application/json"}}, []byte(body+"\n"), -1)
	return sdk.ActionPause
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
