package deploy

import (
	"errors"
	"fmt"
	"time"

	"github.com/wasmgate/wasmgate/host/observe"
)

// Errors, to be tested with errors.Is; the admin API maps them to 404,
// 409 and 400.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// PluginInfo describes a stored plugin binary.
type PluginInfo struct {
	// Digest is "sha256:<hex>" of the .wasm file.
	Digest string `json:"digest"`
	// Name and Version are the tag it was first pushed as.
	Name    string `json:"name"`
	Version string `json:"version"`
	// Tags are every name@version pointing at this digest.
	Tags []string `json:"tags"`
	// Size is the .wasm size in bytes.
	Size int `json:"size"`
	// ABI is the Proxy-Wasm ABI version the module exports.
	ABI string `json:"abi"`
	// Imports are the host functions it imports ("module.name").
	Imports []string `json:"imports"`
	// Uploaded is when it was first pushed.
	Uploaded time.Time `json:"uploaded"`
}

// Deployment is an immutable snapshot of an API document with its plugin
// references resolved to digests.
type Deployment struct {
	// ID is "d-" followed by Seq.
	ID  string `json:"id"`
	Seq int    `json:"seq"`
	// Description and Author are free text given at deploy time.
	Description string `json:"description,omitempty"`
	Author      string `json:"author,omitempty"`
	// Created is when it was made.
	Created time.Time `json:"created"`
	// API is the document's title, Source the name it was deployed from.
	API    string `json:"api"`
	Source string `json:"source"`
	// DocDigest is "sha256:<hex>" of the document as deployed.
	DocDigest string `json:"docDigest"`
	// Operations is the number of operations served.
	Operations int `json:"operations"`
	// Plugins are the document's plugin references with the digest each
	// resolved to when the deployment was made.
	Plugins []ResolvedPlugin `json:"plugins"`
	// Fingerprint identifies the deployed input for file-driven mode (the
	// document and every plugin file), "" otherwise.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// ResolvedPlugin is a plugin reference as written in a document ("cors",
// "cors@1.2.0", "file:x.wasm", "sha256:...") and the digest it resolved
// to.
type ResolvedPlugin struct {
	Ref    string `json:"ref"`
	Name   string `json:"name,omitempty"`
	Digest string `json:"digest"`
}

// Stage is a named pointer at a deployment, with its own settings.
type Stage struct {
	// Name is the stage name and base path: letters, digits, "-", "_".
	Name string `json:"name"`
	// Deployment is the id of the deployment it serves.
	Deployment string `json:"deployment"`
	// Hosts are host names that select the stage (besides /NAME/...).
	Hosts []string `json:"hosts,omitempty"`
	// Variables are the stage variables (${stageVariables.name}).
	Variables map[string]string `json:"variables"`
	// Pins override the deployment's plugin choice on this stage: plugin
	// name → digest.
	Pins map[string]string `json:"pins,omitempty"`
	// Canary sends a share of the stage's requests to another deployment.
	Canary *Canary `json:"canary,omitempty"`
	// Throttle, Cache and AccessLog are the stage's policy settings.
	Throttle  *Throttle  `json:"throttle,omitempty"`
	Cache     *Cache     `json:"cache,omitempty"`
	AccessLog *AccessLog `json:"accessLog,omitempty"`
	// ExecLog and Capture are the stage's execution log and
	// request/response capture settings.
	ExecLog *ExecLog `json:"execLog,omitempty"`
	Capture *Capture `json:"capture,omitempty"`
	// RequireClientCert refuses (403) requests to the stage that did not
	// come with a verified client certificate (mTLS: the server's
	// tls_client_ca).
	RequireClientCert bool `json:"requireClientCert,omitempty"`
	// Served lists the deployments the stage has pointed at, oldest
	// first; rollback without a target goes to the newest one older than
	// the current deployment.
	Served []string `json:"served"`
	// Created and Updated are the stage's timestamps.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Canary is a stage's canary release.
type Canary struct {
	// Deployment is the canary deployment's id.
	Deployment string `json:"deployment"`
	// Percent of the stage's requests it serves, in (0, 100].
	Percent float64 `json:"percent"`
	// Sticky keeps a client on one side: "ip", "header:NAME",
	// "cookie:NAME"; "" splits each request at random.
	Sticky string `json:"sticky,omitempty"`
	// Variables override stage variables on the canary side.
	Variables map[string]string `json:"variables,omitempty"`
}

// Throttle is a stage's default token bucket (AWS: 10,000 rps, burst
// 5,000 at the account level).
type Throttle struct {
	RateLimit float64 `json:"rateLimit"`
	Burst     int     `json:"burst"`
}

// Cache is a stage's response cache setting.
type Cache struct {
	Enabled    bool `json:"enabled"`
	SizeMB     int  `json:"sizeMB"`
	TTLSeconds int  `json:"ttlSeconds"`
}

// AccessLog is a stage's access log setting.
type AccessLog struct {
	// Format is "json", "clf", a $context template, or "off" (see
	// host/observe); "" takes the server's access_log.
	Format string `json:"format"`
	// Destination is "stdout", "stderr", a file path (rotated by size),
	// or several, comma-separated; "" takes the server's access_log_dest.
	Destination string `json:"destination,omitempty"`
}

// ExecLog is a stage's execution log setting: each plugin callback's
// phase, duration and verdict, and the plugins' own log lines.
type ExecLog struct {
	// Level is "off", "error" or "info"; "" takes the server's exec_log.
	Level string `json:"level"`
	// Destination is as AccessLog's; "" takes the server's exec_log_dest.
	Destination string `json:"destination,omitempty"`
}

// Capture is a stage's full request/response capture setting.
type Capture struct {
	// SampleRate is the share of requests captured, 0 to 1.
	SampleRate float64 `json:"sampleRate"`
	// MaxBodyBytes caps each captured body (0: 8 KiB).
	MaxBodyBytes int `json:"maxBodyBytes,omitempty"`
	// RedactHeaders and RedactFields name headers and JSON body fields
	// (at any depth) whose values are replaced before anything is
	// written; Authorization, Proxy-Authorization, Cookie, Set-Cookie and
	// X-Api-Key always are.
	RedactHeaders []string `json:"redactHeaders,omitempty"`
	RedactFields  []string `json:"redactFields,omitempty"`
	// Destination is as AccessLog's; "" is the execution log's.
	Destination string `json:"destination,omitempty"`
}

// observeSettings converts a stage's log settings for host/observe.
func (st *Stage) observeSettings() *observe.StageSettings {
	if st.AccessLog == nil && st.ExecLog == nil && st.Capture == nil {
		return nil
	}
	var o observe.StageSettings
	if a := st.AccessLog; a != nil {
		o.AccessLog, o.AccessLogDest = a.Format, a.Destination
	}
	if e := st.ExecLog; e != nil {
		o.ExecLog, o.ExecLogDest = e.Level, e.Destination
	}
	if c := st.Capture; c != nil {
		o.Capture = &observe.CaptureSettings{
			SampleRate: c.SampleRate, MaxBodyBytes: c.MaxBodyBytes,
			RedactHeaders: c.RedactHeaders, RedactFields: c.RedactFields, Destination: c.Destination,
		}
	}
	return &o
}

// Event is one entry of the change history.
type Event struct {
	Seq    int       `json:"seq"`
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // deploy, rollback, pin, unpin, canary, promote, drop-canary, update-stage, delete-stage, push-plugin
	Stage  string    `json:"stage,omitempty"`
	// Deployment is the deployment the stage serves after the change (or
	// the one created), From the one before.
	Deployment string `json:"deployment,omitempty"`
	From       string `json:"from,omitempty"`
	Plugin     string `json:"plugin,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Author     string `json:"author,omitempty"`
	Detail     string `json:"detail,omitempty"`
}

// StageStatus is a stage as served.
type StageStatus struct {
	Stage
	// Serving is false when the stage failed to load at start-up (Error
	// says why); it then answers 404 until it is changed.
	Serving bool   `json:"serving"`
	Error   string `json:"error,omitempty"`
}

// kindError is an error of one of the kinds above, whose message is only
// its own text.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string { return e.msg }

func (e *kindError) Is(target error) bool { return target == e.kind }

func (e *kindError) Unwrap() error { return e.cause }

// errorf returns an error of kind with a formatted message; a %w verb in
// format keeps its operand reachable through errors.Is/As.
func errorf(kind error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &kindError{kind: kind, msg: err.Error(), cause: errors.Unwrap(err)}
}
