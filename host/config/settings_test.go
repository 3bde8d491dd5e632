package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// clearEnv unsets the WASMGATE_ variables of the test process for the
// duration of the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, EnvPrefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func TestLoadSettings(t *testing.T) {
	full := Settings{
		Listen: ":8000", TLSListen: ":8443", TLSCert: "/etc/wasmgate/cert.pem", TLSKey: "/etc/wasmgate/key.pem",
		HTTP3: true, AdminListen: "127.0.0.1:9000", DataDir: "/var/lib/wasmgate", API: "/etc/wasmgate/api.yaml",
		MaxBodyBytes: 1 << 20, CacheSizeMB: 64, CacheMaxEntryBytes: 1 << 20, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ShutdownTimeout: 45 * time.Second, LogLevel: "debug", WatchInterval: 2 * time.Second, TLSMinVersion: "1.2", TLSReloadInterval: 10 * time.Second,
		AccessLog: "json", AccessLogDest: "/var/log/wasmgate/access.log", ExecLog: "error", ExecLogDest: "stderr",
		LogMaxSizeMB: 50, LogMaxBackups: 3, TrustRequestID: true,
	}
	with := func(f func(*Settings)) Settings {
		s := DefaultSettings()
		f(&s)
		return s
	}
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  Settings
	}{
		{name: "defaults", want: DefaultSettings()},
		{name: "yaml file", file: "full.yaml", want: full},
		{name: "json file over defaults", file: "partial.json",
			want: with(func(s *Settings) { s.Listen, s.AdminListen, s.LogLevel = ":9090", "127.0.0.1:9091", "warn" })},
		{name: "env over file", file: "partial.json",
			env: map[string]string{"WASMGATE_ADMIN_LISTEN": "0.0.0.0:9901", "WASMGATE_MAX_BODY_BYTES": "2048", "WASMGATE_IDLE_TIMEOUT": "3s"},
			want: with(func(s *Settings) {
				s.Listen, s.AdminListen, s.LogLevel, s.MaxBodyBytes, s.IdleTimeout = ":9090", "0.0.0.0:9901", "warn", 2048, 3*time.Second
			})},
		{name: "flags over env over file", file: "partial.json",
			env:   map[string]string{"WASMGATE_ADMIN_LISTEN": "0.0.0.0:9901", "WASMGATE_LOG_LEVEL": "error"},
			flags: []string{"--admin-listen=:7000", "--shutdown-timeout=1s", "--api", "my.yaml"},
			want: with(func(s *Settings) {
				s.Listen, s.AdminListen, s.LogLevel, s.ShutdownTimeout, s.API = ":9090", ":7000", "error", time.Second, "my.yaml"
			})},
		{name: "unset flags keep the file's values", file: "full.yaml", flags: []string{}, want: full},
		{name: "env turns a feature off", file: "full.yaml",
			env:  map[string]string{"WASMGATE_HTTP3": "false", "WASMGATE_ADMIN_LISTEN": ""},
			want: with(func(s *Settings) { *s = full; s.HTTP3, s.AdminListen = false, "" })},
		{name: "unknown env variables are ignored", env: map[string]string{"WASMGATE_ADMIN_URL": "http://x"}, want: DefaultSettings()},
		{name: "flags that are not settings are ignored", flags: []string{"--stage=prod"}, want: DefaultSettings()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var fs *pflag.FlagSet
			if tt.flags != nil {
				fs = pflag.NewFlagSet("wasmgate", pflag.ContinueOnError)
				AddFlags(fs)
				fs.String("stage", "", "not a setting")
				if err := fs.Parse(tt.flags); err != nil {
					t.Fatal(err)
				}
			}
			file := tt.file
			if file != "" {
				file = filepath.Join("testdata", "settings", file)
			}
			got, err := LoadSettings(file, fs)
			if err != nil {
				t.Fatalf("LoadSettings: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestLoadSettingsErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		flags []string
		want  string
	}{
		{name: "unknown keys", file: "unknown.yaml", want: `settings file testdata/settings/unknown.yaml: unknown setting "listen_addr"; known settings are listen, tls_listen, tls_cert, tls_key, tls_cert_dir, tls_min_version, tls_client_ca, tls_client_auth, tls_reload_interval, http_redirect, http3, admin_listen, admin_token, deployment_header, redis, watch_interval, data_dir, api, max_body_bytes, cache_size_mb, cache_max_entry_bytes, cache_l2, read_header_timeout, idle_timeout, shutdown_timeout, log_level, access_log, access_log_dest, exec_log, exec_log_dest, log_max_size_mb, log_max_backups, trust_request_id, compression, compression_min_bytes, plugin_pool_max, trusted_proxies
settings file testdata/settings/unknown.yaml: unknown setting "tls.cert"; known settings are listen, tls_listen, tls_cert, tls_key, tls_cert_dir, tls_min_version, tls_client_ca, tls_client_auth, tls_reload_interval, http_redirect, http3, admin_listen, admin_token, deployment_header, redis, watch_interval, data_dir, api, max_body_bytes, cache_size_mb, cache_max_entry_bytes, cache_l2, read_header_timeout, idle_timeout, shutdown_timeout, log_level, access_log, access_log_dest, exec_log, exec_log_dest, log_max_size_mb, log_max_backups, trust_request_id, compression, compression_min_bytes, plugin_pool_max, trusted_proxies`},
		{name: "bad values in a file", file: "bad-values.yaml", want: `settings file testdata/settings/bad-values.yaml: http3: must be true or false, not "maybe"
settings file testdata/settings/bad-values.yaml: idle_timeout: must be a duration like "30s" or "1m30s", not 30
settings file testdata/settings/bad-values.yaml: listen: must be a string, not 8000; quote it
settings file testdata/settings/bad-values.yaml: max_body_bytes: must be a whole number, not 1.5
settings: log_level must be one of trace, debug, info, warn, error, disabled, not "verbose"`},
		{name: "unknown file format", file: "settings.toml", want: `settings file testdata/settings/settings.toml: unknown format; use a .yaml, .yml or .json file`},
		{name: "missing file", file: "nope.yaml", want: `settings file testdata/settings/nope.yaml: open testdata/settings/nope.yaml: no such file or directory`},
		{name: "bad env values", env: map[string]string{"WASMGATE_IDLE_TIMEOUT": "soon", "WASMGATE_MAX_BODY_BYTES": "10MB"},
			want: `environment variable WASMGATE_IDLE_TIMEOUT: must be a duration like "30s" or "1m30s", not "soon"
environment variable WASMGATE_MAX_BODY_BYTES: must be a whole number, not "10MB"`},
		{name: "inconsistent settings", flags: []string{"--http3", "--tls-cert=c.pem", "--listen=8080", "--max-body-bytes=0", "--idle-timeout=0s", "--log-level=loud"},
			want: `settings: listen "8080" is not a host:port address like ":8080" or "127.0.0.1:9901"
settings: tls_cert and tls_key go together: set both, or neither for a self-signed development certificate
settings: tls_cert and tls_key are set but tls_listen is not; set tls_listen (e.g. ":8443") to serve TLS
settings: http3 needs tls_listen: HTTP/3 runs on the TLS port
settings: max_body_bytes must be positive, not 0
settings: idle_timeout must be positive, not 0s
settings: log_level must be one of trace, debug, info, warn, error, disabled, not "loud"`},
		{name: "tls without a key", env: map[string]string{"WASMGATE_TLS_LISTEN": ":8443", "WASMGATE_TLS_CERT": "c.pem"},
			want: `settings: tls_cert and tls_key go together: set both, or neither for a self-signed development certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var fs *pflag.FlagSet
			if tt.flags != nil {
				fs = pflag.NewFlagSet("wasmgate", pflag.ContinueOnError)
				AddFlags(fs)
				if err := fs.Parse(tt.flags); err != nil {
					t.Fatal(err)
				}
			}
			file := tt.file
			if file != "" {
				file = filepath.Join("testdata", "settings", file)
			}
			s, err := LoadSettings(file, fs)
			if err == nil {
				t.Fatalf("LoadSettings accepted the settings: %+v", s)
			}
			if err.Error() != tt.want {
				t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

func TestIntFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--cache-size-mb", "7", "--plugin-pool-max", "3", "--log-max-backups", "2"}); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings("", fs)
	if err != nil {
		t.Fatal(err)
	}
	if s.CacheSizeMB != 7 || s.PluginPoolMax != 3 || s.LogMaxBackups != 2 {
		t.Fatalf("int flags not applied: cache %d, pool %d, backups %d", s.CacheSizeMB, s.PluginPoolMax, s.LogMaxBackups)
	}
}
