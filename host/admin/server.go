package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/wasmgate/wasmgate/host/apikeys"
	"github.com/wasmgate/wasmgate/host/deploy"
)

// Body caps: a request body over its cap is refused with 413.
const (
	// MaxPluginBytes caps a pushed .wasm.
	MaxPluginBytes = 64 << 20
	// MaxDocumentBytes caps an API document and every JSON body.
	MaxDocumentBytes = 10 << 20
)

// AuthorHeader names the author of a change (default DefaultAuthor).
const (
	AuthorHeader  = "X-Wasmgate-Author"
	DefaultAuthor = "admin"
)

const maxAuthorLen = 200

// Options configure the admin API.
type Options struct {
	// Token, when set, is required on every request as
	// "Authorization: Bearer TOKEN".
	Token string
	// Log receives internal errors (the 500s); nil discards.
	Log func(format string, args ...any)
	// APIKeys backs /v1/apikeys and /v1/usageplans; nil answers them 404.
	APIKeys *apikeys.Store
	// Metrics serves GET /metrics (Prometheus text format, behind the
	// token like every endpoint); nil answers it 404.
	Metrics http.Handler
}

type server struct {
	m        *deploy.Manager
	keys     *apikeys.Store
	log      func(format string, args ...any)
	tokenSum [sha256.Size]byte
	auth     bool
	mux      *http.ServeMux
}

// New returns the admin API over m.
func New(m *deploy.Manager, opts Options) http.Handler {
	s := &server{m: m, keys: opts.APIKeys, log: opts.Log, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = func(string, ...any) {}
	}
	if opts.Token != "" {
		s.auth = true
		s.tokenSum = sha256.Sum256([]byte("Bearer " + opts.Token))
	}
	routes := []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request) error
	}{
		{"GET /v1/health", s.health},
		{"GET /v1/plugins", s.listPlugins},
		{"GET /v1/plugins/{digest}", s.getPlugin},
		{"POST /v1/plugins", s.pushPlugin},
		{"GET /v1/deployments", s.listDeployments},
		{"GET /v1/deployments/{id}", s.getDeployment},
		{"POST /v1/deployments", s.deploy},
		{"GET /v1/deployments/{id}/export", s.exportDeployment},
		{"GET /v1/stages", s.listStages},
		{"GET /v1/stages/{name}", s.getStage},
		{"PUT /v1/stages/{name}", s.putStage},
		{"DELETE /v1/stages/{name}", s.deleteStage},
		{"POST /v1/stages/{name}/rollback", s.rollback},
		{"PUT /v1/stages/{name}/pins/{plugin}", s.pin},
		{"DELETE /v1/stages/{name}/pins/{plugin}", s.unpin},
		{"PUT /v1/stages/{name}/canary", s.setCanary},
		{"POST /v1/stages/{name}/canary/promote", s.promoteCanary},
		{"DELETE /v1/stages/{name}/canary", s.dropCanary},
		{"GET /v1/stages/{name}/export", s.exportStage},
		{"GET /v1/history", s.history},
	}
	routes = append(routes, s.keyRoutes()...)
	if opts.Metrics != nil {
		s.mux.Handle("GET /metrics", opts.Metrics)
	}
	for _, rt := range routes {
		h := rt.h
		s.mux.HandleFunc(rt.pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				s.fail(w, r, err)
			}
		})
	}
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.auth {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], s.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="wasmgate admin"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong admin token: send Authorization: Bearer TOKEN (the CLI reads it from WASMGATE_ADMIN_TOKEN or --token)")
			return
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// No endpoint matches: the mux answers 404 or 405 (with Allow)
		// in plain text; say it in JSON.
		s.mux.ServeHTTP(&jsonErrorWriter{ResponseWriter: w, r: r}, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// jsonErrorWriter rewrites the mux's own 404 and 405 answers as JSON.
type jsonErrorWriter struct {
	http.ResponseWriter
	r       *http.Request
	written bool
}

func (w *jsonErrorWriter) WriteHeader(code int) {
	var msg string
	switch code {
	case http.StatusNotFound:
		msg = fmt.Sprintf("no endpoint %s %s: the admin API's endpoints are under /v1 (/v1/stages, /v1/deployments, /v1/plugins, /v1/history, /v1/apikeys, /v1/usageplans, /v1/health), and /metrics", w.r.Method, w.r.URL.Path)
	case http.StatusMethodNotAllowed:
		msg = fmt.Sprintf("%s %s: method not allowed (allowed: %s)", w.r.Method, w.r.URL.Path, w.Header().Get("Allow"))
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.written = true
	writeError(w.ResponseWriter, code, msg)
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.written {
		return len(b), nil // the mux's plain-text body, replaced
	}
	return w.ResponseWriter.Write(b)
}

// httpError is an error with its own status (bad queries and bodies).
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

type errorBody struct {
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Message: "encoding the answer: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// kinds maps deploy's error kinds to statuses, the more specific first:
// an error may carry several (a deployment that fails to build is
// invalid because a plugin it names is not found) and the specific one
// wins.
var kinds = []struct {
	err    error
	status int
}{
	{deploy.ErrNotFound, http.StatusNotFound},
	{deploy.ErrConflict, http.StatusConflict},
	{deploy.ErrInvalid, http.StatusBadRequest},
	{apikeys.ErrNotFound, http.StatusNotFound},
	{apikeys.ErrConflict, http.StatusConflict},
	{apikeys.ErrInvalid, http.StatusBadRequest},
}

// statusOf is the status for err: its own (bad queries and bodies), that
// of its deploy kind, else 500.
func statusOf(err error) int {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		s.log("admin: %s %s: %v", r.Method, r.URL.Path, err)
	}
	writeError(w, status, err.Error())
}

// query checks that r has no query parameter besides allowed ones (a
// misspelt one would be silently ignored otherwise).
func query(r *http.Request, allowed ...string) error {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return badRequest("unknown query parameter %q: %s %s takes none", k, r.Method, r.URL.Path)
			}
			return badRequest("unknown query parameter %q: %s %s takes %s", k, r.Method, r.URL.Path, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// author is the change's author from the X-Wasmgate-Author header.
func author(r *http.Request) (string, error) {
	a := strings.TrimSpace(r.Header.Get(AuthorHeader))
	if a == "" {
		return DefaultAuthor, nil
	}
	if len(a) > maxAuthorLen {
		return "", badRequest("%s: at most %d characters", AuthorHeader, maxAuthorLen)
	}
	return a, nil
}

func tooLarge(what string, limit int64) error {
	return &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%s is larger than %d MiB, the admin API's limit", what, limit>>20)}
}

// readBody reads r's body up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, tooLarge(what, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(what, limit)
		}
		return nil, badRequest("reading %s: %v", what, err)
	}
	return b, nil
}

// decodeJSON decodes r's body into v; unknown fields and trailing data
// are errors. An empty body is an error unless optional.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool, example string) error {
	b, err := readBody(w, r, MaxDocumentBytes, "the JSON body")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return nil
		}
		return badRequest("empty body: want a JSON object like %s", example)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("bad JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("bad JSON body: more than one JSON value")
	}
	return nil
}

func (s *server) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *server) listPlugins(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	ps, err := s.m.Plugins()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(ps))
	return nil
}

func (s *server) getPlugin(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	p, err := s.m.Plugin(r.PathValue("digest"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) pushPlugin(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "name", "version"); err != nil {
		return err
	}
	q := r.URL.Query()
	name, version := q.Get("name"), q.Get("version")
	if name == "" || version == "" {
		return badRequest("give the plugin's name and version: POST /v1/plugins?name=NAME&version=VERSION with the .wasm as the body")
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	bin, err := readBody(w, r, MaxPluginBytes, "the plugin")
	if err != nil {
		return err
	}
	if len(bin) == 0 {
		return badRequest("empty body: send the plugin's .wasm")
	}
	info, created, err := s.m.PushPlugin(r.Context(), name, version, bin, who)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, info)
	return nil
}

func (s *server) listDeployments(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(s.m.Deployments()))
	return nil
}

func (s *server) getDeployment(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	d, err := s.m.Deployment(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *server) deploy(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "stage", "description", "source"); err != nil {
		return err
	}
	q := r.URL.Query()
	who, err := author(r)
	if err != nil {
		return err
	}
	doc, err := readBody(w, r, MaxDocumentBytes, "the API document")
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return badRequest("empty body: send the API document (OpenAPI 3.x or Swagger 2.0, YAML or JSON)")
	}
	var stages []string
	for _, st := range q["stage"] {
		if st == "" {
			return badRequest("stage=: empty stage name")
		}
		if !slices.Contains(stages, st) {
			stages = append(stages, st)
		}
	}
	d, err := s.m.Deploy(r.Context(), doc, deploy.DeployOptions{
		Stages: stages, Description: q.Get("description"), Author: who, Source: q.Get("source"),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *server) export(w http.ResponseWriter, id, stage, format string) error {
	doc, err := s.m.Export(id, stage, format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.WriteHeader(http.StatusOK)
	w.Write(doc)
	return nil
}

func (s *server) exportDeployment(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "format"); err != nil {
		return err
	}
	return s.export(w, r.PathValue("id"), "", r.URL.Query().Get("format"))
}

func (s *server) exportStage(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "format", "deployment"); err != nil {
		return err
	}
	q := r.URL.Query()
	return s.export(w, q.Get("deployment"), r.PathValue("name"), q.Get("format"))
}

func (s *server) listStages(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(s.m.Stages()))
	return nil
}

func (s *server) getStage(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	st, err := s.m.Stage(r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// stageResult answers a stage change.
func stageResult(w http.ResponseWriter, st *deploy.Stage, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *server) putStage(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	var spec deploy.StageSpec
	if err := decodeJSON(w, r, &spec, false, `{"deployment":"d-1","variables":{"backend":"http://..."}}`); err != nil {
		return err
	}
	st, err := s.m.PutStage(r.Context(), r.PathValue("name"), spec, who)
	return stageResult(w, st, err)
}

func (s *server) deleteStage(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	if err := s.m.DeleteStage(r.Context(), r.PathValue("name"), who); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RollbackRequest is the optional body of POST /v1/stages/{name}/rollback.
type RollbackRequest struct {
	// To is the deployment to serve; "" goes back to the newest one the
	// stage served before its current one.
	To string `json:"to,omitempty"`
}

func (s *server) rollback(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	var req RollbackRequest
	if err := decodeJSON(w, r, &req, true, `{"to":"d-3"}`); err != nil {
		return err
	}
	st, err := s.m.Rollback(r.Context(), r.PathValue("name"), req.To, who)
	return stageResult(w, st, err)
}

// PinRequest is the body of PUT /v1/stages/{name}/pins/{plugin}.
type PinRequest struct {
	// Ref is a version of the plugin ("1.0.0"), name@version or a
	// digest ("sha256:...").
	Ref string `json:"ref"`
}

func (s *server) pin(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	var req PinRequest
	if err := decodeJSON(w, r, &req, false, `{"ref":"1.0.0"}`); err != nil {
		return err
	}
	if req.Ref == "" {
		return badRequest(`pin: give a ref: {"ref":"1.0.0"}, {"ref":"name@1.0.0"} or {"ref":"sha256:..."}`)
	}
	st, err := s.m.Pin(r.Context(), r.PathValue("name"), r.PathValue("plugin"), req.Ref, who)
	return stageResult(w, st, err)
}

func (s *server) unpin(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	st, err := s.m.Unpin(r.Context(), r.PathValue("name"), r.PathValue("plugin"), who)
	return stageResult(w, st, err)
}

func (s *server) setCanary(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	var c deploy.Canary
	if err := decodeJSON(w, r, &c, false, `{"deployment":"d-9","percent":10}`); err != nil {
		return err
	}
	st, err := s.m.SetCanary(r.Context(), r.PathValue("name"), c, who)
	return stageResult(w, st, err)
}

func (s *server) promoteCanary(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	st, err := s.m.PromoteCanary(r.Context(), r.PathValue("name"), who)
	return stageResult(w, st, err)
}

func (s *server) dropCanary(w http.ResponseWriter, r *http.Request) error {
	if err := query(r); err != nil {
		return err
	}
	who, err := author(r)
	if err != nil {
		return err
	}
	st, err := s.m.DropCanary(r.Context(), r.PathValue("name"), who)
	return stageResult(w, st, err)
}

func (s *server) history(w http.ResponseWriter, r *http.Request) error {
	if err := query(r, "stage", "limit"); err != nil {
		return err
	}
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return badRequest("limit=%s: want a number, 0 or more (0: every event)", v)
		}
		limit = n
	}
	evs, err := s.m.History(q.Get("stage"), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, nonNil(evs))
	return nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
