package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/deploy"
)

// APIError is an error answered by the admin API; its Error is the
// server's message.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("admin API: %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// Client calls the admin API. Its methods are safe for concurrent use.
type Client struct {
	base  string
	token string
	// Author, when set, is sent as X-Wasmgate-Author (recorded in the
	// history); DeployRequest.Author wins for Deploy.
	Author string
	// HTTP sends the requests (default http.DefaultClient).
	HTTP *http.Client
}

// NewClient returns a client of the admin API at baseURL
// ("http://127.0.0.1:9901"; a bare HOST:PORT means http) sending token,
// if set, as a bearer token.
func NewClient(baseURL, token string) *Client {
	base := strings.TrimRight(baseURL, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	return &Client{base: base, token: token}
}

// BaseURL is the admin API's address.
func (c *Client) BaseURL() string { return c.base }

// DeployRequest is what Deploy sends besides the document.
type DeployRequest struct {
	// Stages are pointed at the new deployment (created if missing);
	// none only records it.
	Stages []string
	// Description is recorded; Source names the document ("api.yaml");
	// Author overrides Client.Author.
	Description, Source, Author string
}

// request is one call.
type request struct {
	method, path string
	query        url.Values
	body         io.Reader
	contentType  string
	author       string
}

// do sends req and decodes a JSON answer into out (a *[]byte takes the
// raw body); it returns the status.
func (c *Client) do(ctx context.Context, req request, out any) (int, error) {
	u := c.base + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, req.body)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.contentType != "" {
		hr.Header.Set("Content-Type", req.contentType)
	}
	who := req.author
	if who == "" {
		who = c.Author
	}
	if who != "" {
		hr.Header.Set(AuthorHeader, who)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, readError(resp)
	}
	switch out := out.(type) {
	case nil:
		io.Copy(io.Discard, resp.Body)
	case *[]byte:
		if *out, err = io.ReadAll(resp.Body); err != nil {
			return resp.StatusCode, fmt.Errorf("reading the answer to %s %s: %w", req.method, req.path, err)
		}
	default:
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the answer to %s %s (is %s wasmgate's admin API?): %w", req.method, req.path, c.base, err)
		}
	}
	return resp.StatusCode, nil
}

// readError turns an error answer into an *APIError.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body errorBody
	if json.Unmarshal(b, &body) == nil && body.Message != "" {
		return &APIError{Status: resp.StatusCode, Message: body.Message}
	}
	// Not the admin API's error shape: say what answered.
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	text := fmt.Sprintf("%s from %s (is this wasmgate's admin API?)", resp.Status, resp.Request.URL.Redacted())
	if msg != "" {
		text += ": " + msg
	}
	return &APIError{Status: resp.StatusCode, Message: text}
}

func jsonBody(v any) (io.Reader, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func seg(s string) string { return url.PathEscape(s) }

// Health checks that the admin API answers.
func (c *Client) Health(ctx context.Context) error {
	var out struct {
		Status string `json:"status"`
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/v1/health"}, &out); err != nil {
		return err
	}
	if out.Status != "ok" {
		return fmt.Errorf("admin API at %s: status %q", c.base, out.Status)
	}
	return nil
}

// Plugins lists the stored plugins.
func (c *Client) Plugins(ctx context.Context) ([]deploy.PluginInfo, error) {
	var out []deploy.PluginInfo
	_, err := c.do(ctx, request{method: "GET", path: "/v1/plugins"}, &out)
	return out, err
}

// Plugin returns the stored plugin with digest ("sha256:...").
func (c *Client) Plugin(ctx context.Context, digest string) (deploy.PluginInfo, error) {
	var out deploy.PluginInfo
	_, err := c.do(ctx, request{method: "GET", path: "/v1/plugins/" + seg(digest)}, &out)
	return out, err
}

// PushPlugin stores wasm as name@version; created is false when the same
// bytes were already stored under that tag.
func (c *Client) PushPlugin(ctx context.Context, name, version string, wasm []byte) (info deploy.PluginInfo, created bool, err error) {
	status, err := c.do(ctx, request{
		method: "POST", path: "/v1/plugins",
		query: url.Values{"name": {name}, "version": {version}},
		body:  bytes.NewReader(wasm), contentType: "application/wasm",
	}, &info)
	return info, status == http.StatusCreated, err
}

// Deployments lists every deployment, newest first.
func (c *Client) Deployments(ctx context.Context) ([]deploy.Deployment, error) {
	var out []deploy.Deployment
	_, err := c.do(ctx, request{method: "GET", path: "/v1/deployments"}, &out)
	return out, err
}

// Deployment returns deployment id ("d-3").
func (c *Client) Deployment(ctx context.Context, id string) (deploy.Deployment, error) {
	var out deploy.Deployment
	_, err := c.do(ctx, request{method: "GET", path: "/v1/deployments/" + seg(id)}, &out)
	return out, err
}

// Deploy makes a deployment of an API document (YAML or JSON) and points
// req.Stages at it.
func (c *Client) Deploy(ctx context.Context, doc []byte, req DeployRequest) (deploy.Deployment, error) {
	q := url.Values{}
	for _, s := range req.Stages {
		q.Add("stage", s)
	}
	if req.Description != "" {
		q.Set("description", req.Description)
	}
	if req.Source != "" {
		q.Set("source", req.Source)
	}
	ct := "application/yaml"
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		ct = "application/json"
	}
	var out deploy.Deployment
	_, err := c.do(ctx, request{
		method: "POST", path: "/v1/deployments", query: q,
		body: bytes.NewReader(doc), contentType: ct, author: req.Author,
	}, &out)
	return out, err
}

// Export returns a deployment's document (with its plugin references
// pinned to digests) in format ("oas3", "swagger2"; "" keeps the
// original's). With a stage, the stage's pins and variables apply and its
// deployment is the default; deploymentID may then be "".
func (c *Client) Export(ctx context.Context, deploymentID, stage, format string) ([]byte, error) {
	q := url.Values{}
	if format != "" {
		q.Set("format", format)
	}
	var path string
	switch {
	case stage != "":
		path = "/v1/stages/" + seg(stage) + "/export"
		if deploymentID != "" {
			q.Set("deployment", deploymentID)
		}
	case deploymentID != "":
		path = "/v1/deployments/" + seg(deploymentID) + "/export"
	default:
		return nil, errors.New("export: give a deployment or a stage")
	}
	var out []byte
	_, err := c.do(ctx, request{method: "GET", path: path, query: q}, &out)
	return out, err
}

// Stages lists every stage with its serving status.
func (c *Client) Stages(ctx context.Context) ([]deploy.StageStatus, error) {
	var out []deploy.StageStatus
	_, err := c.do(ctx, request{method: "GET", path: "/v1/stages"}, &out)
	return out, err
}

// Stage returns one stage.
func (c *Client) Stage(ctx context.Context, name string) (deploy.StageStatus, error) {
	var out deploy.StageStatus
	_, err := c.do(ctx, request{method: "GET", path: "/v1/stages/" + seg(name)}, &out)
	return out, err
}

// stageCall sends a stage change and decodes the stage.
func (c *Client) stageCall(ctx context.Context, method, path string, body any) (deploy.Stage, error) {
	req := request{method: method, path: path}
	if body != nil {
		r, err := jsonBody(body)
		if err != nil {
			return deploy.Stage{}, err
		}
		req.body, req.contentType = r, "application/json"
	}
	var out deploy.Stage
	_, err := c.do(ctx, req, &out)
	return out, err
}

// PutStage creates a stage or replaces its settings (spec replaces them
// as a whole; a new stage needs spec.Deployment).
func (c *Client) PutStage(ctx context.Context, name string, spec deploy.StageSpec) (deploy.Stage, error) {
	return c.stageCall(ctx, "PUT", "/v1/stages/"+seg(name), spec)
}

// DeleteStage stops serving a stage and forgets it.
func (c *Client) DeleteStage(ctx context.Context, name string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/stages/" + seg(name)}, nil)
	return err
}

// Rollback points a stage at deployment to, or with to "" at the newest
// deployment it served before its current one.
func (c *Client) Rollback(ctx context.Context, stage, to string) (deploy.Stage, error) {
	return c.stageCall(ctx, "POST", "/v1/stages/"+seg(stage)+"/rollback", RollbackRequest{To: to})
}

// Pin makes a stage use the plugin digest ref ("1.0.0", "name@1.0.0",
// "sha256:...") resolves to wherever its deployments use plugin.
func (c *Client) Pin(ctx context.Context, stage, plugin, ref string) (deploy.Stage, error) {
	return c.stageCall(ctx, "PUT", "/v1/stages/"+seg(stage)+"/pins/"+seg(plugin), PinRequest{Ref: ref})
}

// Unpin removes a stage's pin of plugin.
func (c *Client) Unpin(ctx context.Context, stage, plugin string) (deploy.Stage, error) {
	return c.stageCall(ctx, "DELETE", "/v1/stages/"+seg(stage)+"/pins/"+seg(plugin), nil)
}

// SetCanary sends canary.Percent of a stage's requests to
// canary.Deployment.
func (c *Client) SetCanary(ctx context.Context, stage string, canary deploy.Canary) (deploy.Stage, error) {
	return c.stageCall(ctx, "PUT", "/v1/stages/"+seg(stage)+"/canary", canary)
}

// PromoteCanary makes a stage's canary its deployment.
func (c *Client) PromoteCanary(ctx context.Context, stage string) (deploy.Stage, error) {
	return c.stageCall(ctx, "POST", "/v1/stages/"+seg(stage)+"/canary/promote", nil)
}

// DropCanary ends a stage's canary.
func (c *Client) DropCanary(ctx context.Context, stage string) (deploy.Stage, error) {
	return c.stageCall(ctx, "DELETE", "/v1/stages/"+seg(stage)+"/canary", nil)
}

// History returns change events, newest first: every one or a stage's;
// limit <= 0 means all.
func (c *Client) History(ctx context.Context, stage string, limit int) ([]deploy.Event, error) {
	q := url.Values{}
	if stage != "" {
		q.Set("stage", stage)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out []deploy.Event
	_, err := c.do(ctx, request{method: "GET", path: "/v1/history", query: q}, &out)
	return out, err
}

// CreateAPIKey creates an API key; the answer holds its value, which the
// gateway does not keep.
func (c *Client) CreateAPIKey(ctx context.Context, spec apikeys.KeySpec) (apikeys.CreatedKey, error) {
	var out apikeys.CreatedKey
	body, err := jsonBody(spec)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, request{method: "POST", path: "/v1/apikeys", body: body, contentType: "application/json"}, &out)
	return out, err
}

// APIKeys lists the API keys.
func (c *Client) APIKeys(ctx context.Context) ([]apikeys.Key, error) {
	var out []apikeys.Key
	_, err := c.do(ctx, request{method: "GET", path: "/v1/apikeys"}, &out)
	return out, err
}

// APIKey returns the API key with id.
func (c *Client) APIKey(ctx context.Context, id string) (apikeys.Key, error) {
	var out apikeys.Key
	_, err := c.do(ctx, request{method: "GET", path: "/v1/apikeys/" + seg(id)}, &out)
	return out, err
}

// UpdateAPIKey renames, describes, enables or disables an API key.
func (c *Client) UpdateAPIKey(ctx context.Context, id string, u apikeys.KeyUpdate) (apikeys.Key, error) {
	var out apikeys.Key
	body, err := jsonBody(u)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, request{method: "PATCH", path: "/v1/apikeys/" + seg(id), body: body, contentType: "application/json"}, &out)
	return out, err
}

// DeleteAPIKey deletes an API key.
func (c *Client) DeleteAPIKey(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/apikeys/" + seg(id)}, nil)
	return err
}

// CreateUsagePlan creates a usage plan.
func (c *Client) CreateUsagePlan(ctx context.Context, spec apikeys.PlanSpec) (apikeys.Plan, error) {
	var out apikeys.Plan
	body, err := jsonBody(spec)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, request{method: "POST", path: "/v1/usageplans", body: body, contentType: "application/json"}, &out)
	return out, err
}

// UsagePlans lists the usage plans.
func (c *Client) UsagePlans(ctx context.Context) ([]apikeys.Plan, error) {
	var out []apikeys.Plan
	_, err := c.do(ctx, request{method: "GET", path: "/v1/usageplans"}, &out)
	return out, err
}

// UsagePlan returns the usage plan with id.
func (c *Client) UsagePlan(ctx context.Context, id string) (apikeys.Plan, error) {
	var out apikeys.Plan
	_, err := c.do(ctx, request{method: "GET", path: "/v1/usageplans/" + seg(id)}, &out)
	return out, err
}

// PutUsagePlan replaces a usage plan's settings (its keys stay).
func (c *Client) PutUsagePlan(ctx context.Context, id string, spec apikeys.PlanSpec) (apikeys.Plan, error) {
	var out apikeys.Plan
	body, err := jsonBody(spec)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, request{method: "PUT", path: "/v1/usageplans/" + seg(id), body: body, contentType: "application/json"}, &out)
	return out, err
}

// DeleteUsagePlan deletes a usage plan that has no keys.
func (c *Client) DeleteUsagePlan(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/usageplans/" + seg(id)}, nil)
	return err
}

// AddUsagePlanKey puts an API key in a usage plan.
func (c *Client) AddUsagePlanKey(ctx context.Context, planID, keyID string) (apikeys.Plan, error) {
	var out apikeys.Plan
	_, err := c.do(ctx, request{method: "PUT", path: "/v1/usageplans/" + seg(planID) + "/keys/" + seg(keyID)}, &out)
	return out, err
}

// RemoveUsagePlanKey takes an API key out of a usage plan.
func (c *Client) RemoveUsagePlanKey(ctx context.Context, planID, keyID string) (apikeys.Plan, error) {
	var out apikeys.Plan
	_, err := c.do(ctx, request{method: "DELETE", path: "/v1/usageplans/" + seg(planID) + "/keys/" + seg(keyID)}, &out)
	return out, err
}
