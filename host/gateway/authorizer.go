package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/abi"
	"github.com/wasmgate/wasmgate/host/config"
	"github.com/wasmgate/wasmgate/host/pipeline"
	"github.com/wasmgate/wasmgate/host/wasm"
)

// Custom authorizers: API Gateway's Lambda authorizers, with a Wasm plugin
// in the Lambda's place (config.Authorizer declares one).
//
// Before an operation's pipeline runs, the gateway reads the authorizer's
// identity sources from the request (a missing one, or a token that does
// not match identityValidationExpression: 401 without calling the
// plugin), looks the decision up in the authorizer's cache (keyed by the
// stage and the identity values, for authorizerResultTtlInSeconds;
// concurrent misses for one key make one call), and on a miss runs the
// plugin like a function integration: a POST whose body is the
// authorizer event JSON (TOKEN: type, authorizationToken, methodArn;
// REQUEST: type, methodArn, resource, path, httpMethod, headers,
// queryStringParameters, pathParameters, stageVariables, requestContext),
// answered by a local response:
//
//   - 200 with the authorizer response JSON: {principalId, policyDocument:
//     {Version, Statement: [{Action, Effect, Resource}]}, context}, or the
//     simple format {isAuthorized, context};
//   - 401: the caller is not authenticated (the Lambda's "Unauthorized"
//     error), 401 {"message":"Unauthorized"}, not cached;
//   - anything else, a plugin failure or no answer: 500
//     AUTHORIZER_FAILURE; a 200 whose body is not an authorizer response:
//     500 AUTHORIZER_CONFIGURATION_ERROR. Neither is cached.
//
// The policy is evaluated against the request's method ARN,
// arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}
// (methodARNRegion, methodARNAccount, methodARNAPIID), with IAM's rules:
// an explicit Deny wins (403 "... with an explicit deny"), then an Allow,
// else 403 (an implicit deny). Policies are cached, not verdicts, so a
// cached policy is evaluated again for each method ARN, as in API Gateway.
// An allowed request's principalId and context are properties of the
// request for the plugins (wasmgate.authorizer.*) and $context.authorizer.*
// variables of gateway responses.

// Stable placeholders of method ARNs: policies written for API Gateway
// with wildcards (arn:aws:execute-api:*:*:*/prod/GET/*) work unchanged.
const (
	methodARNRegion  = "local"
	methodARNAccount = "000000000000"
	methodARNAPIID   = "wasmgate"
)

const (
	// authorizerTimeout bounds one authorizer call.
	authorizerTimeout = 10 * time.Second
	// authCacheMax bounds an authorizer's cache; a full cache drops its
	// expired entries, then everything.
	authCacheMax = 10000
)

// authorizer is one custom authorizer of a snapshot.
type authorizer struct {
	cfg      *config.Authorizer
	chain    *pipeline.Chain
	validate *regexp.Regexp
	ttl      time.Duration

	// call runs the plugin: invoke, replaced in tests.
	call func(ctx context.Context, rc *reqCtx, vals []string) *authDecision

	mu       sync.Mutex
	cache    map[string]authEntry
	inflight map[string]*authCall
}

type authEntry struct {
	d       *authDecision
	expires time.Time
}

type authCall struct {
	done chan struct{}
	d    *authDecision
}

// authDecision is an authorizer's answer.
type authDecision struct {
	// failure: 401 (not authenticated) or 500, with its response type;
	// 0 for an answer.
	status int
	typ    string
	reason string // for the error log

	principal string
	context   [][2]string // sorted by key; values as text
	simple    bool        // {isAuthorized}: authorized decides
	allowed   bool
	policy    []statement
}

type statement struct {
	deny      bool
	actions   []string
	resources []string
}

func (d *authDecision) value(key string) string {
	for _, kv := range d.context {
		if kv[0] == key {
			return kv[1]
		}
	}
	return ""
}

// buildAuthorizers compiles the authorizers the document's operations
// use, each with its own plugin pool.
func (g *Gateway) buildAuthorizers(ctx context.Context, s *Snapshot, src PluginSource, cache map[string]*wasm.Plugin) error {
	for _, a := range s.API.Authorizers {
		p, err := g.plugin(ctx, s, src, cache, a.Plugin, authorizerTimeout)
		if err != nil {
			return fmt.Errorf("authorizer %s: %w", a.Name, err)
		}
		az := &authorizer{
			cfg:      a,
			chain:    pipeline.NewChain(pipeline.Step{Plugin: p, OnError: pipeline.FailClosed}),
			ttl:      time.Duration(a.TTL) * time.Second,
			cache:    map[string]authEntry{},
			inflight: map[string]*authCall{},
		}
		az.call = az.invoke
		if a.ValidationExpression != "" {
			re, err := regexp.Compile("^(?:" + a.ValidationExpression + ")$")
			if err != nil {
				return fmt.Errorf("authorizer %s: identityValidationExpression: %w", a.Name, err)
			}
			az.validate = re
		}
		if s.authorizers == nil {
			s.authorizers = map[string]*authorizer{}
		}
		s.authorizers[a.Name] = az
	}
	return nil
}

// authorize runs the operation's authorizer; false when the request was
// answered (401, 403 or 500).
func (g *Gateway) authorize(w http.ResponseWriter, rc *reqCtx, a *authorizer) bool {
	vals, ok := a.identity(rc)
	if !ok || a.validate != nil && !a.validate.MatchString(vals[0]) {
		g.writeGatewayResponse(w, rc, respUnauthorized, http.StatusUnauthorized, "Unauthorized")
		return false
	}
	d := a.decide(rc, vals)
	switch d.status {
	case 0:
	case http.StatusUnauthorized:
		g.writeGatewayResponse(w, rc, respUnauthorized, http.StatusUnauthorized, "Unauthorized")
		return false
	default:
		msg := "authorizer " + a.cfg.Name + ": " + d.reason
		g.failure(rc, msg)
		rc.obs.errMsg = msg // the access log gets the reason, the client the gateway response
		g.writeGatewayResponse(w, rc, d.typ, http.StatusInternalServerError, "Internal server error")
		return false
	}
	rc.auth = d
	switch {
	case d.simple && d.allowed:
		return true
	case d.simple:
		g.writeGatewayResponse(w, rc, respAccessDenied, http.StatusForbidden, "Forbidden")
		return false
	}
	switch evaluatePolicy(d.policy, methodARN(rc)) {
	case effectAllow:
		return true
	case effectDeny:
		g.writeGatewayResponse(w, rc, respAccessDenied, http.StatusForbidden, "User is not authorized to access this resource with an explicit deny")
	default:
		g.writeGatewayResponse(w, rc, respAccessDenied, http.StatusForbidden, "User is not authorized to access this resource")
	}
	return false
}

// identity reads the identity sources; false when one is missing.
func (a *authorizer) identity(rc *reqCtx) ([]string, bool) {
	srcs := a.cfg.IdentitySources
	vals := make([]string, len(srcs))
	var query map[string][]string
	for i, s := range srcs {
		var v string
		switch s.In {
		case config.IdentityHeader:
			v = rc.r.Header.Get(s.Name)
		case config.IdentityQuery:
			if query == nil {
				query = rc.r.URL.Query()
			}
			if q := query[s.Name]; len(q) > 0 {
				v = q[len(q)-1]
			}
		case config.IdentityStageVariable:
			v = rc.stage.vars[s.Name]
		case config.IdentityContext:
			v = (&responseVars{rc: rc}).context(s.Name)
		}
		if v == "" {
			return nil, false
		}
		vals[i] = v
	}
	return vals, true
}

// decide answers from the cache or calls the plugin.
func (a *authorizer) decide(rc *reqCtx, vals []string) *authDecision {
	if a.ttl <= 0 {
		return a.call(rc.r.Context(), rc, vals)
	}
	key := cacheKey(rc.stage.name, vals)
	now := time.Now()
	a.mu.Lock()
	if e, ok := a.cache[key]; ok && now.Before(e.expires) {
		a.mu.Unlock()
		return e.d
	}
	if c, ok := a.inflight[key]; ok {
		a.mu.Unlock()
		select {
		case <-c.done:
			return c.d
		case <-rc.r.Context().Done():
			return &authDecision{status: http.StatusInternalServerError, typ: respAuthorizerFailure, reason: "the request ended while waiting for the authorizer"}
		}
	}
	c := &authCall{done: make(chan struct{})}
	a.inflight[key] = c
	a.mu.Unlock()

	// The call serves every request waiting for it: it does not end with
	// this request's client.
	c.d = a.call(context.WithoutCancel(rc.r.Context()), rc, vals)
	a.mu.Lock()
	delete(a.inflight, key)
	if c.d.status == 0 {
		if len(a.cache) >= authCacheMax {
			for k, e := range a.cache {
				if !now.Before(e.expires) {
					delete(a.cache, k)
				}
			}
			if len(a.cache) >= authCacheMax {
				clear(a.cache)
			}
		}
		a.cache[key] = authEntry{d: c.d, expires: time.Now().Add(a.ttl)}
	}
	a.mu.Unlock()
	close(c.done)
	return c.d
}

// cacheKey joins the stage and the identity values (one allocation).
func cacheKey(stage string, vals []string) string {
	n := len(stage)
	for _, v := range vals {
		n += 1 + len(v)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString(stage)
	for _, v := range vals {
		b.WriteByte(0)
		b.WriteString(v)
	}
	return b.String()
}

// invoke runs the authorizer plugin on the event of rc.
func (a *authorizer) invoke(ctx context.Context, rc *reqCtx, vals []string) *authDecision {
	fail := func(typ, format string, args ...any) *authDecision {
		return &authDecision{status: http.StatusInternalServerError, typ: typ, reason: fmt.Sprintf(format, args...)}
	}
	event, err := json.Marshal(a.event(rc, vals))
	if err != nil {
		return fail(respAuthorizerFailure, "encoding the event: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, authorizerTimeout)
	defer cancel()
	fields := wasm.NewFields([][2]string{
		{":method", http.MethodPost}, {":path", "/"}, {":authority", rc.r.Host}, {":scheme", rc.scheme},
		{"content-type", "application/json"}, {"content-length", strconv.Itoa(len(event))},
	})
	var x *pipeline.Exchange
	var err2 error
	if rc.obs.on {
		// Observed like a pipeline plugin: metrics, execution log.
		ob := &authObserver{rc: rc}
		defer ob.done()
		if x, err2 = a.chain.StartObserved(ctx, rc, fields, ob); err2 != nil {
			rc.startFailed(err2)
		}
	} else {
		x, err2 = a.chain.Start(ctx, rc, fields)
	}
	if err2 != nil {
		return fail(respAuthorizerFailure, "%v", err2)
	}
	defer x.Close()
	x.LoadBody = func() error { x.ReqBody.B = event; return nil }
	if err := x.RequestHeaders(false); err != nil {
		return fail(respAuthorizerFailure, "%v", err)
	}
	if x.Local() == nil {
		if !x.BodyLoaded() {
			_ = x.LoadBody() // cannot fail
		}
		if err := x.RequestBody(); err != nil {
			return fail(respAuthorizerFailure, "%v", err)
		}
	}
	l := x.Local()
	switch {
	case l == nil:
		return fail(respAuthorizerFailure, "the plugin did not answer")
	case l.StatusCode == http.StatusUnauthorized:
		return &authDecision{status: http.StatusUnauthorized}
	case l.StatusCode != http.StatusOK:
		return fail(respAuthorizerFailure, "the plugin answered %d: %s", l.StatusCode, truncateBytes(l.Body, 200))
	}
	d, err := parseAuthorizerResponse(l.Body)
	if err != nil {
		return fail(respAuthorizerConfig, "malformed authorizer response: %v", err)
	}
	return d
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Authorizer events, field for field as API Gateway sends them to a
// Lambda authorizer.
type tokenEvent struct {
	Type               string `json:"type"`
	AuthorizationToken string `json:"authorizationToken"`
	MethodArn          string `json:"methodArn"`
}

type requestEvent struct {
	Type                            string              `json:"type"`
	MethodArn                       string              `json:"methodArn"`
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  authRequestContext  `json:"requestContext"`
}

type authRequestContext struct {
	Path             string       `json:"path"`
	AccountID        string       `json:"accountId"`
	APIID            string       `json:"apiId"`
	Stage            string       `json:"stage"`
	DeploymentID     string       `json:"deploymentId"`
	RequestID        string       `json:"requestId"`
	ResourcePath     string       `json:"resourcePath"`
	HTTPMethod       string       `json:"httpMethod"`
	DomainName       string       `json:"domainName"`
	Protocol         string       `json:"protocol"`
	RequestTimeEpoch int64        `json:"requestTimeEpoch"`
	Identity         authIdentity `json:"identity"`
}

type authIdentity struct {
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

func (a *authorizer) event(rc *reqCtx, vals []string) any {
	arn := methodARN(rc)
	if a.cfg.Type == config.AuthorizerToken {
		return &tokenEvent{Type: "TOKEN", AuthorizationToken: vals[0], MethodArn: arn}
	}
	r := rc.r
	ev := &requestEvent{
		Type:       "REQUEST",
		MethodArn:  arn,
		Resource:   resourceTemplate(rc),
		Path:       stagePath(rc),
		HTTPMethod: r.Method,
		RequestContext: authRequestContext{
			Path:             r.URL.Path,
			AccountID:        methodARNAccount,
			APIID:            methodARNAPIID,
			Stage:            rc.stage.name,
			DeploymentID:     rc.snap.ID,
			RequestID:        rc.id,
			ResourcePath:     resourceTemplate(rc),
			HTTPMethod:       r.Method,
			DomainName:       hostOnly(r.Host),
			Protocol:         r.Proto,
			RequestTimeEpoch: rc.start.UnixMilli(),
			Identity:         authIdentity{SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent()},
		},
	}
	if len(r.Header) > 0 {
		ev.Headers = make(map[string]string, len(r.Header))
		ev.MultiValueHeaders = make(map[string][]string, len(r.Header))
		for k, vs := range r.Header {
			lk := strings.ToLower(k)
			ev.Headers[lk] = vs[len(vs)-1]
			ev.MultiValueHeaders[lk] = vs
		}
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		ev.MultiValueQueryStringParameters = q
		for k, vs := range q {
			ev.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	if len(rc.params) > 0 {
		ev.PathParameters = make(map[string]string, len(rc.params))
		for _, p := range rc.params {
			ev.PathParameters[p.Name] = p.Value
		}
	}
	if len(rc.stage.vars) > 0 {
		ev.StageVariables = rc.stage.vars
	}
	return ev
}

// stagePath is the request path without the stage prefix that selected
// the stage.
func stagePath(rc *reqCtx) string {
	p := rc.r.URL.Path
	prefix := "/" + rc.stage.name
	switch {
	case p == prefix:
		return "/"
	case strings.HasPrefix(p, prefix+"/"):
		return p[len(prefix):]
	}
	return p
}

// resourceTemplate is the operation's path template without the base
// path: API Gateway's resource path.
func resourceTemplate(rc *reqCtx) string {
	if o, ok := rc.route.Data.(*operation); ok && o.op != nil {
		return o.op.Path
	}
	return rc.route.Template
}

// methodARN is the ARN of the request's method:
// arn:aws:execute-api:local:000000000000:wasmgate/{stage}/{METHOD}/{path}
// with the path as requested, without the stage and base path and the
// leading slash.
func methodARN(rc *reqCtx) string {
	p := stagePath(rc)
	if bp := rc.snap.API.BasePath; bp != "" && (p == bp || strings.HasPrefix(p, bp+"/")) {
		p = p[len(bp):]
	}
	return "arn:aws:execute-api:" + methodARNRegion + ":" + methodARNAccount + ":" + methodARNAPIID + "/" +
		rc.stage.name + "/" + rc.r.Method + "/" + strings.TrimPrefix(p, "/")
}

func sourceIP(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// parseAuthorizerResponse reads a Lambda authorizer response: the IAM
// policy format, or the simple format of HTTP APIs ({isAuthorized}).
func parseAuthorizerResponse(body []byte) (*authDecision, error) {
	var raw struct {
		PrincipalID    *json.RawMessage           `json:"principalId"`
		PolicyDocument *policyDocument            `json:"policyDocument"`
		Context        map[string]json.RawMessage `json:"context"`
		IsAuthorized   *bool                      `json:"isAuthorized"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	d := &authDecision{}
	if raw.PrincipalID != nil {
		if err := json.Unmarshal(*raw.PrincipalID, &d.principal); err != nil {
			return nil, errors.New("principalId must be a string")
		}
	}
	for k, v := range raw.Context {
		s, err := contextValue(v)
		if err != nil {
			return nil, fmt.Errorf("context.%s: %v", k, err)
		}
		d.context = append(d.context, [2]string{k, s})
	}
	sort.Slice(d.context, func(i, j int) bool { return d.context[i][0] < d.context[j][0] })
	if raw.IsAuthorized != nil {
		d.simple, d.allowed = true, *raw.IsAuthorized
		return d, nil
	}
	if raw.PrincipalID == nil {
		return nil, errors.New("principalId is missing")
	}
	if raw.PolicyDocument == nil {
		return nil, errors.New("policyDocument is missing (or answer {isAuthorized: true|false})")
	}
	pol, err := raw.PolicyDocument.statements()
	if err != nil {
		return nil, err
	}
	d.policy = pol
	return d, nil
}

// contextValue turns a context value into text: strings as they are,
// numbers and booleans as their JSON; objects, lists and null are refused,
// as API Gateway does.
func contextValue(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", errors.New("empty value")
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '{', '[', 'n':
		return "", errors.New("only strings, numbers and booleans are allowed")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

type policyDocument struct {
	Version   string          `json:"Version"`
	Statement json.RawMessage `json:"Statement"`
}

type rawStatement struct {
	Effect   string          `json:"Effect"`
	Action   json.RawMessage `json:"Action"`
	Resource json.RawMessage `json:"Resource"`
}

func (p *policyDocument) statements() ([]statement, error) {
	var list []rawStatement
	s := bytes.TrimSpace(p.Statement)
	if len(s) > 0 && s[0] == '{' {
		var one rawStatement
		if err := json.Unmarshal(s, &one); err != nil {
			return nil, fmt.Errorf("policyDocument.Statement: %v", err)
		}
		list = []rawStatement{one}
	} else if err := json.Unmarshal(s, &list); err != nil {
		return nil, fmt.Errorf("policyDocument.Statement must be a list of statements: %v", err)
	}
	out := make([]statement, 0, len(list))
	for i, rs := range list {
		var st statement
		switch {
		case strings.EqualFold(rs.Effect, "Allow"):
		case strings.EqualFold(rs.Effect, "Deny"):
			st.deny = true
		default:
			return nil, fmt.Errorf("policyDocument.Statement[%d].Effect must be Allow or Deny, not %q", i, rs.Effect)
		}
		var err error
		if st.actions, err = stringOrList(rs.Action); err != nil {
			return nil, fmt.Errorf("policyDocument.Statement[%d].Action: %v", i, err)
		}
		if st.resources, err = stringOrList(rs.Resource); err != nil {
			return nil, fmt.Errorf("policyDocument.Statement[%d].Resource: %v", i, err)
		}
		out = append(out, st)
	}
	return out, nil
}

func stringOrList(v json.RawMessage) ([]string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return nil, errors.New("missing")
	}
	if v[0] == '"' {
		var s string
		err := json.Unmarshal(v, &s)
		return []string{s}, err
	}
	var l []string
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, errors.New("must be a string or a list of strings")
	}
	return l, nil
}

type effect int

const (
	effectNone effect = iota
	effectAllow
	effectDeny
)

// evaluatePolicy applies IAM's rule to the statements that cover the
// execute-api:Invoke action on arn: an explicit Deny wins, then an
// Allow; none is an implicit deny.
func evaluatePolicy(policy []statement, arn string) effect {
	res := effectNone
	for _, st := range policy {
		if !matchAny(st.actions, "execute-api:Invoke", true) || !matchAny(st.resources, arn, false) {
			continue
		}
		if st.deny {
			return effectDeny
		}
		res = effectAllow
	}
	return res
}

func matchAny(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if wildcardMatchFold(p, s, fold) {
			return true
		}
	}
	return false
}

// wildcardMatch matches IAM wildcards: "*" any run of characters
// (slashes included), "?" one character.
func wildcardMatch(p, s string) bool { return wildcardMatchFold(p, s, false) }

// wildcardMatchFold is wildcardMatch, ASCII case-insensitive when fold
// (IAM action names).
func wildcardMatchFold(p, s string, fold bool) bool {
	eq := func(a, b byte) bool {
		if a == b {
			return true
		}
		if !fold {
			return false
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || eq(p[pi], s[si])):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// authObserver reports an authorizer plugin's calls to its request's
// observability, as the pipeline's plugins are: the plugin metrics (calls,
// time, errors by kind) and the stage's execution log.
type authObserver struct {
	rc    *reqCtx
	p     *wasm.Plugin
	calls int
	dur   time.Duration
}

func (o *authObserver) PluginCall(c pipeline.Call) {
	o.p = c.Plugin
	o.calls++
	o.dur += c.Duration
	c.Step = math.MaxInt32 // not one of the pipeline's steps (reqCtx.PluginCall times those)
	o.rc.PluginCall(c)
}

func (o *authObserver) PluginLog(_ int, p *wasm.Plugin, level abi.LogLevel, msg string) {
	o.rc.PluginLog(math.MaxInt32, p, level, msg)
}

func (o *authObserver) done() {
	if o.p != nil && o.rc.stage != nil {
		o.rc.gwMetrics().Plugin(o.rc.stage.name, o.p.Info().Name).Observe(o.calls, o.dur)
	}
}

// authorizerProperty answers the wasmgate.authorizer properties of an
// allowed request.
func (rc *reqCtx) authorizerProperty(path string) ([]byte, bool) {
	d := rc.auth
	if d == nil {
		return nil, false
	}
	if path == abi.PropAuthorizer {
		pairs := append([][2]string{{"principal_id", d.principal}}, d.context...)
		return abi.AppendMap(nil, pairs), true
	}
	if path == abi.PropAuthorizerPrincipalID {
		return []byte(d.principal), true
	}
	key, ok := strings.CutPrefix(path, abi.PropAuthorizer+".")
	if !ok {
		return nil, false
	}
	for _, kv := range d.context {
		if kv[0] == key {
			return []byte(kv[1]), true
		}
	}
	return nil, false
}
