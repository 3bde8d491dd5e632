package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/knadh/koanf/parsers/json"
	kyaml "github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env"
	kfile "github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// EnvPrefix starts the environment variables LoadSettings reads:
// WASMGATE_ADMIN_LISTEN sets admin_listen.
const EnvPrefix = "WASMGATE_"

// Settings are the gateway server's settings (not the API: that is the
// document at API).
type Settings struct {
	// Listen is the plain-text listener address, serving HTTP/1.1 and h2c.
	// Default ":8080".
	Listen string
	// TLSListen is the TLS listener address (HTTP/1.1 and HTTP/2); "" (the
	// default) turns TLS off. Without TLSCert and TLSKey, serve uses a
	// self-signed certificate for localhost (development only).
	TLSListen string
	// TLSCert and TLSKey are the PEM certificate chain and key files.
	TLSCert, TLSKey string
	// TLSCertDir holds more certificates, NAME.crt (or .pem) with
	// NAME.key, chosen by SNI; files are reloaded when they change.
	TLSCertDir string
	// TLSMinVersion is "1.2" (default) or "1.3".
	TLSMinVersion string
	// TLSClientCA is a PEM bundle of CAs that client certificates are
	// verified against (mTLS); TLSClientAuth is "optional" (default with
	// a CA: verified when given) or "require" (refused at the handshake).
	TLSClientCA, TLSClientAuth string
	// TLSReloadInterval is how often certificate files are checked for
	// changes. Default 10s.
	TLSReloadInterval time.Duration
	// HTTPRedirect makes the plain listener redirect every request to
	// HTTPS (308). It needs TLSListen.
	HTTPRedirect bool
	// HTTP3 also serves HTTP/3 (QUIC, UDP) on the TLSListen port and
	// advertises it with Alt-Svc. It needs TLSListen.
	HTTP3 bool
	// AdminListen is the admin API address; "" turns the admin API off.
	// Default "127.0.0.1:9901".
	AdminListen string
	// AdminToken is the bearer token the admin API requires; it must be
	// set when AdminListen is not a loopback address.
	AdminToken string
	// DeploymentHeader adds X-Wasmgate-Deployment (the deployment that
	// served it) to every response. Off by default.
	DeploymentHeader bool
	// Redis is a Redis URL (redis://[user:password@]host:port/db) for
	// cluster mode: token buckets and quotas live there, so every gateway
	// sharing it enforces one limit. "" keeps them in memory.
	Redis string
	// WatchInterval is how often file-driven mode (serve --config DIR)
	// looks for changes. Default 2s.
	WatchInterval time.Duration
	// DataDir holds the plugin store, deployments and the embedded data
	// store. Default "./data".
	DataDir string
	// API is the path of the API document to serve; "" serves the embedded
	// default (examples/petstore).
	API string
	// MaxBodyBytes bounds request bodies (413 beyond). Default 10 MiB.
	MaxBodyBytes int64
	// CacheSizeMB is the capacity of a stage's response cache when the
	// stage sets none (stages set --cache-size-mb). Default 64.
	CacheSizeMB int
	// CacheMaxEntryBytes bounds the body of a cached response (larger
	// responses are served but not stored). Default 1 MiB.
	CacheMaxEntryBytes int64
	// CacheL2 shares cached responses between the gateways of a cluster
	// through Redis (needs Redis). Off by default.
	CacheL2 bool
	// ReadHeaderTimeout bounds reading request headers (slowloris).
	// Default 10s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the graceful drain. Default 30s.
	ShutdownTimeout time.Duration
	// LogLevel is trace, debug, info (the default), warn, error or
	// disabled.
	LogLevel string
	// AccessLog is the access log format of stages that set none: "json",
	// "clf", a $context template, or "" / "off" (the default: no access
	// log unless a stage asks for one, as in API Gateway).
	AccessLog string
	// AccessLogDest is where those lines go: "stdout" (the default),
	// "stderr", a file path rotated by size, or several, comma-separated.
	AccessLogDest string
	// ExecLog is the execution log level of stages that set none: off
	// (the default), error or info.
	ExecLog string
	// ExecLogDest is where execution log lines go (as AccessLogDest).
	ExecLogDest string
	// LogMaxSizeMB rotates a log file at this size (default 100);
	// LogMaxBackups rotated files are kept (default 5).
	LogMaxSizeMB, LogMaxBackups int64
	// TrustRequestID keeps a client's well-formed X-Request-Id instead of
	// assigning one (behind a proxy that assigns ids). Off by default.
	TrustRequestID bool
	// TrustedProxies is a comma-separated list of CIDRs (or addresses) of
	// proxies in front of the gateway whose X-Forwarded-* and Forwarded
	// headers are kept; from other clients they are replaced.
	TrustedProxies string
	// PluginPoolMax caps each plugin's instance pool; 0 (default) is
	// 4 × GOMAXPROCS. Pools start at GOMAXPROCS instances and grow only
	// when calls wait for an instance.
	PluginPoolMax int
	// Compression lists the response encodings offered, in order of
	// preference: "zstd,gzip"; "" (default) compresses nothing.
	// CompressionMinBytes is the smallest body compressed (default 1024).
	Compression         string
	CompressionMinBytes int64
}

// DefaultSettings returns the settings used when nothing is configured.
func DefaultSettings() Settings {
	return Settings{
		Listen:             ":8080",
		AdminListen:        "127.0.0.1:9901",
		DataDir:            "./data",
		MaxBodyBytes:       10 << 20,
		CacheSizeMB:        64,
		CacheMaxEntryBytes: 1 << 20,
		ReadHeaderTimeout:  10 * time.Second,
		IdleTimeout:        120 * time.Second,
		ShutdownTimeout:    30 * time.Second,
		WatchInterval:      2 * time.Second,
		TLSMinVersion:      "1.2",
		TLSReloadInterval:  10 * time.Second,
		LogLevel:           "info",
		AccessLogDest:      "stdout",
		ExecLog:            "off",
		ExecLogDest:        "stdout",
		LogMaxSizeMB:       100,
		LogMaxBackups:      5,
	}
}

// setting describes one key: its name in files ("admin_listen"), in
// environment variables (WASMGATE_ADMIN_LISTEN) and flags
// (--admin-listen), and the field it sets.
type setting struct {
	key   string
	usage string
	field func(*Settings) any // a pointer to the field
}

var settings = []setting{
	{"listen", "plain-text listener address (HTTP/1.1 and h2c)", func(s *Settings) any { return &s.Listen }},
	{"tls_listen", `TLS listener address; "" turns TLS off`, func(s *Settings) any { return &s.TLSListen }},
	{"tls_cert", "TLS certificate chain file (PEM)", func(s *Settings) any { return &s.TLSCert }},
	{"tls_key", "TLS private key file (PEM)", func(s *Settings) any { return &s.TLSKey }},
	{"tls_cert_dir", "directory of more TLS certificates (NAME.crt + NAME.key), chosen by SNI", func(s *Settings) any { return &s.TLSCertDir }},
	{"tls_min_version", `lowest TLS version: "1.2" or "1.3"`, func(s *Settings) any { return &s.TLSMinVersion }},
	{"tls_client_ca", "PEM bundle of CAs for client certificates (mTLS)", func(s *Settings) any { return &s.TLSClientCA }},
	{"tls_client_auth", `with tls_client_ca: "optional" or "require"`, func(s *Settings) any { return &s.TLSClientAuth }},
	{"tls_reload_interval", "how often TLS certificate files are checked for changes", func(s *Settings) any { return &s.TLSReloadInterval }},
	{"http_redirect", "redirect plain HTTP to HTTPS (308)", func(s *Settings) any { return &s.HTTPRedirect }},
	{"http3", "also serve HTTP/3 on the TLS port and advertise it with Alt-Svc", func(s *Settings) any { return &s.HTTP3 }},
	{"admin_listen", `admin API address; "" turns the admin API off`, func(s *Settings) any { return &s.AdminListen }},
	{"admin_token", "bearer token of the admin API (required when admin_listen is not loopback)", func(s *Settings) any { return &s.AdminToken }},
	{"deployment_header", "add X-Wasmgate-Deployment to responses", func(s *Settings) any { return &s.DeploymentHeader }},
	{"redis", `Redis URL for cluster mode (shared rate limits and quotas); "" keeps them in memory`, func(s *Settings) any { return &s.Redis }},
	{"watch_interval", "how often serve --config DIR looks for changes", func(s *Settings) any { return &s.WatchInterval }},
	{"data_dir", "directory of the plugin store, deployments and data", func(s *Settings) any { return &s.DataDir }},
	{"api", `API document to serve; "" serves the embedded example`, func(s *Settings) any { return &s.API }},
	{"max_body_bytes", "largest request body in bytes (413 beyond)", func(s *Settings) any { return &s.MaxBodyBytes }},
	{"cache_size_mb", "response cache capacity of a stage that sets none, in MB", func(s *Settings) any { return &s.CacheSizeMB }},
	{"cache_max_entry_bytes", "largest response body the cache stores", func(s *Settings) any { return &s.CacheMaxEntryBytes }},
	{"cache_l2", "with redis: share cached responses between gateways through Redis", func(s *Settings) any { return &s.CacheL2 }},
	{"read_header_timeout", "time allowed to read request headers", func(s *Settings) any { return &s.ReadHeaderTimeout }},
	{"idle_timeout", "idle keep-alive connection timeout", func(s *Settings) any { return &s.IdleTimeout }},
	{"shutdown_timeout", "time allowed to drain requests on shutdown", func(s *Settings) any { return &s.ShutdownTimeout }},
	{"log_level", "trace, debug, info, warn, error or disabled", func(s *Settings) any { return &s.LogLevel }},
	{"access_log", `access log format of stages that set none: json, clf, a $context template, or "" (off)`, func(s *Settings) any { return &s.AccessLog }},
	{"access_log_dest", "where access logs go: stdout, stderr, a file path (rotated), or several, comma-separated", func(s *Settings) any { return &s.AccessLogDest }},
	{"exec_log", "execution log level of stages that set none: off, error or info", func(s *Settings) any { return &s.ExecLog }},
	{"exec_log_dest", "where execution logs go (as access_log_dest)", func(s *Settings) any { return &s.ExecLogDest }},
	{"log_max_size_mb", "rotate a log file at this size in MB", func(s *Settings) any { return &s.LogMaxSizeMB }},
	{"log_max_backups", "rotated log files kept", func(s *Settings) any { return &s.LogMaxBackups }},
	{"trust_request_id", "keep a client's well-formed X-Request-Id instead of assigning one", func(s *Settings) any { return &s.TrustRequestID }},
	{"compression", `response compression: encodings in order of preference, "zstd,gzip"; "" for none`, func(s *Settings) any { return &s.Compression }},
	{"compression_min_bytes", "smallest response body compressed", func(s *Settings) any { return &s.CompressionMinBytes }},
	{"plugin_pool_max", "most instances per plugin (0: 4 × GOMAXPROCS)", func(s *Settings) any { return &s.PluginPoolMax }},
	{"trusted_proxies", "comma-separated CIDRs of proxies in front whose X-Forwarded-* and Forwarded headers are kept", func(s *Settings) any { return &s.TrustedProxies }},
}

func settingKeys() []string {
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.key
	}
	return keys
}

func flagName(key string) string { return strings.ReplaceAll(key, "_", "-") }

// AddFlags registers a flag per setting on fs (--listen, --admin-listen,
// --max-body-bytes, ...), with the defaults as flag defaults. Only flags
// set on the command line override the other sources.
func AddFlags(fs *pflag.FlagSet) {
	def := DefaultSettings()
	for _, st := range settings {
		name := flagName(st.key)
		switch p := st.field(&def).(type) {
		case *string:
			fs.String(name, *p, st.usage)
		case *bool:
			fs.Bool(name, *p, st.usage)
		case *int:
			fs.Int(name, *p, st.usage)
		case *int64:
			fs.Int64(name, *p, st.usage)
		case *time.Duration:
			fs.Duration(name, *p, st.usage)
		}
	}
}

// LoadSettings builds the settings from, in increasing precedence: the
// defaults, the file (YAML or JSON by extension; "" for none), the
// environment (WASMGATE_<KEY>, e.g. WASMGATE_ADMIN_LISTEN) and the flags
// of flags that were set (flag names are keys with '-' for '_'; flags may
// be nil, and flags that are not settings are ignored).
//
// Unknown keys in the file are errors naming the key; unknown WASMGATE_
// variables are ignored, as other tools may share the prefix. Durations
// are written like "30s". All the errors found are returned together.
func LoadSettings(file string, flags *pflag.FlagSet) (*Settings, error) {
	s := DefaultSettings()
	var errs []error
	if file != "" {
		var parser koanf.Parser
		switch strings.ToLower(filepath.Ext(file)) {
		case ".yaml", ".yml":
			parser = kyaml.Parser()
		case ".json":
			parser = json.Parser()
		default:
			return nil, fmt.Errorf("settings file %s: unknown format; use a .yaml, .yml or .json file", file)
		}
		k := koanf.New(".")
		if err := k.Load(kfile.Provider(file), parser); err != nil {
			return nil, fmt.Errorf("settings file %s: %w", file, err)
		}
		errs = append(errs, apply(&s, k, "settings file "+file, true)...)
	}

	k := koanf.New(".")
	envKey := func(name string) string {
		key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		if !slices.Contains(settingKeys(), key) {
			return ""
		}
		return key
	}
	if err := k.Load(env.Provider(EnvPrefix, ".", envKey), nil); err != nil {
		return nil, fmt.Errorf("settings from the environment: %w", err)
	}
	errs = append(errs, apply(&s, k, "environment variable "+EnvPrefix, false)...)

	if flags != nil {
		k := koanf.New(".")
		flagKey := func(f *pflag.Flag) (string, any) {
			key := strings.ReplaceAll(f.Name, "-", "_")
			if !f.Changed || !slices.Contains(settingKeys(), key) {
				return "", nil
			}
			return key, posflag.FlagVal(flags, f)
		}
		if err := k.Load(posflag.ProviderWithFlag(flags, ".", nil, flagKey), nil); err != nil {
			return nil, fmt.Errorf("settings from flags: %w", err)
		}
		errs = append(errs, apply(&s, k, "flag --", false)...)
	}

	errs = append(errs, s.validate()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &s, nil
}

// apply copies the values of one source onto s. source prefixes errors:
// "settings file x.yaml", "environment variable WASMGATE_", "flag --".
func apply(s *Settings, k *koanf.Koanf, source string, strict bool) []error {
	var errs []error
	name := func(key string) string {
		switch {
		case strings.HasPrefix(source, "environment"):
			return source + strings.ToUpper(key)
		case strings.HasPrefix(source, "flag"):
			return source + flagName(key)
		}
		return source + ": " + key
	}
	for _, key := range k.Keys() {
		i := slices.IndexFunc(settings, func(st setting) bool { return st.key == key })
		if i < 0 {
			if strict {
				errs = append(errs, fmt.Errorf("%s: unknown setting %q; known settings are %s", source, key, strings.Join(settingKeys(), ", ")))
			}
			continue
		}
		if err := setValue(settings[i].field(s), k.Get(key)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name(key), err))
		}
	}
	return errs
}

// setValue converts a value from a file, the environment or a flag to the
// field's type.
func setValue(field, v any) error {
	switch p := field.(type) {
	case *int:
		var n int64
		if err := setValue(&n, v); err != nil {
			return err
		}
		if int64(int(n)) != n {
			return fmt.Errorf("%d is out of range", n)
		}
		*p = int(n)
	case *string:
		switch x := v.(type) {
		case string:
			*p = x
		case nil:
			*p = ""
		default:
			return fmt.Errorf("must be a string, not %v; quote it", x)
		}
	case *bool:
		switch x := v.(type) {
		case bool:
			*p = x
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("must be true or false, not %q", x)
			}
			*p = b
		default:
			return fmt.Errorf("must be true or false, not %v", x)
		}
	case *int64:
		switch x := v.(type) {
		case int64:
			*p = x
		case int:
			*p = int64(x)
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return fmt.Errorf("must be a whole number, not %v", x)
			}
			*p = int64(x)
		case string:
			n, err := strconv.ParseInt(x, 10, 64)
			if err != nil {
				return fmt.Errorf("must be a whole number, not %q", x)
			}
			*p = n
		default:
			return fmt.Errorf("must be a whole number, not %v", x)
		}
	case *time.Duration:
		switch x := v.(type) {
		case time.Duration:
			*p = x
		case string:
			d, err := time.ParseDuration(x)
			if err != nil {
				return fmt.Errorf("must be a duration like \"30s\" or \"1m30s\", not %q", x)
			}
			*p = d
		default:
			return fmt.Errorf("must be a duration like \"30s\" or \"1m30s\", not %v", x)
		}
	default:
		return fmt.Errorf("settings: a field of type %T cannot be set (a wasmgate bug)", field)
	}
	return nil
}

var logLevels = []string{"trace", "debug", "info", "warn", "error", "disabled"}

// validate checks the merged settings.
func (s *Settings) validate() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("settings: "+format, args...)) }
	checkAddr := func(key, addr string, required bool) {
		if addr == "" {
			if required {
				bad("%s must not be empty; use an address like \":8080\"", key)
			}
			return
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad("%s %q is not a host:port address like \":8080\" or \"127.0.0.1:9901\"", key, addr)
		}
	}
	checkAddr("listen", s.Listen, true)
	checkAddr("tls_listen", s.TLSListen, false)
	checkAddr("admin_listen", s.AdminListen, false)
	// tls_listen alone is allowed: `wasmgate serve` then uses a
	// self-signed certificate for localhost (development).
	if (s.TLSCert == "") != (s.TLSKey == "") {
		bad("tls_cert and tls_key go together: set both, or neither for a self-signed development certificate")
	}
	if s.TLSListen == "" && (s.TLSCert != "" || s.TLSKey != "") {
		bad("tls_cert and tls_key are set but tls_listen is not; set tls_listen (e.g. \":8443\") to serve TLS")
	}
	if s.HTTP3 && s.TLSListen == "" {
		bad("http3 needs tls_listen: HTTP/3 runs on the TLS port")
	}
	if s.DataDir == "" {
		bad("data_dir must not be empty")
	}
	switch s.TLSMinVersion {
	case "1.2", "1.3":
	default:
		bad("tls_min_version %q: want \"1.2\" or \"1.3\"", s.TLSMinVersion)
	}
	switch s.TLSClientAuth {
	case "", "optional", "require":
	default:
		bad("tls_client_auth %q: want \"optional\" or \"require\"", s.TLSClientAuth)
	}
	if s.TLSClientAuth != "" && s.TLSClientCA == "" {
		bad("tls_client_auth needs tls_client_ca: the CA bundle client certificates are verified against")
	}
	if (s.TLSClientCA != "" || s.TLSCertDir != "" || s.HTTPRedirect) && s.TLSListen == "" {
		bad("tls_client_ca, tls_cert_dir and http_redirect need tls_listen (e.g. \":8443\")")
	}
	for _, enc := range strings.Split(s.Compression, ",") {
		if enc = strings.TrimSpace(enc); enc != "" && enc != "gzip" && enc != "zstd" {
			bad("compression: %q is not an encoding wasmgate offers (want zstd, gzip or both)", enc)
		}
	}
	if s.PluginPoolMax < 0 {
		bad("plugin_pool_max must be at least 0 (0: 4 × GOMAXPROCS), not %d", s.PluginPoolMax)
	}
	if s.CompressionMinBytes < 0 {
		bad("compression_min_bytes must be at least 0, not %d", s.CompressionMinBytes)
	}
	for _, p := range strings.Split(s.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("trusted_proxies: %q is not a CIDR (10.0.0.0/8) or an address", p)
			}
		}
	}
	if s.TLSReloadInterval <= 0 {
		bad("tls_reload_interval must be positive, not %v", s.TLSReloadInterval)
	}
	if s.CacheSizeMB <= 0 {
		bad("cache_size_mb must be positive, not %d", s.CacheSizeMB)
	}
	if s.CacheMaxEntryBytes <= 0 {
		bad("cache_max_entry_bytes must be positive, not %d", s.CacheMaxEntryBytes)
	}
	if s.CacheL2 && s.Redis == "" {
		bad("cache_l2 needs redis: set --redis redis://host:port/db, or turn cache_l2 off")
	}
	if s.MaxBodyBytes <= 0 {
		bad("max_body_bytes must be positive, not %d", s.MaxBodyBytes)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"read_header_timeout", s.ReadHeaderTimeout}, {"idle_timeout", s.IdleTimeout}, {"shutdown_timeout", s.ShutdownTimeout}} {
		if d.v <= 0 {
			bad("%s must be positive, not %s", d.key, d.v)
		}
	}
	if !slices.Contains([]string{"off", "error", "info"}, s.ExecLog) {
		bad("exec_log must be off, error or info, not %q", s.ExecLog)
	}
	if s.LogMaxSizeMB <= 0 || s.LogMaxBackups < 0 {
		bad("log_max_size_mb must be positive and log_max_backups at least 0")
	}
	if !slices.Contains(logLevels, s.LogLevel) {
		bad("log_level must be one of %s, not %q", strings.Join(logLevels, ", "), s.LogLevel)
	}
	return errs
}
