package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
)

const refExamples = `write "name@1.2.0", "name", "sha256:<64 hex digits>" or "file:plugins/name.wasm"`

// ParsePluginRef parses a plugin reference as written in a document (see
// PluginRef.Ref) into its parts. Config is "{}" and OnError FailClosed.
func ParsePluginRef(ref string) (PluginRef, error) {
	r := PluginRef{Ref: ref, Config: json.RawMessage("{}"), OnError: FailClosed}
	switch {
	case ref == "":
		return r, errors.New("empty plugin reference; " + refExamples)
	case strings.HasPrefix(ref, "file:"):
		p := strings.TrimPrefix(ref, "file:")
		switch {
		case p == "" || !strings.HasSuffix(p, ".wasm") || path.Base(p) == ".wasm":
			return r, fmt.Errorf("plugin reference %q: a file reference names a .wasm file, e.g. \"file:plugins/cors.wasm\"", ref)
		case strings.HasPrefix(p, "/") || strings.Contains(p, `\`) || len(p) > 1 && p[1] == ':':
			return r, fmt.Errorf("plugin reference %q: the file path must be relative to the document, with / separators", ref)
		}
		r.Name = strings.TrimSuffix(path.Base(p), ".wasm")
		return r, nil
	case strings.HasPrefix(ref, "sha256:"):
		if err := checkDigest(ref); err != nil {
			return r, fmt.Errorf("plugin reference %q: %w", ref, err)
		}
		r.Digest = ref
		return r, nil
	}
	name, version, hasVersion := strings.Cut(ref, "@")
	if !validName(name) {
		return r, fmt.Errorf("bad plugin name in %q: a name is 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit; %s", ref, refExamples)
	}
	r.Name = name
	if !hasVersion {
		return r, nil
	}
	if strings.HasPrefix(version, "sha256:") {
		if err := checkDigest(version); err != nil {
			return r, fmt.Errorf("plugin reference %q: %w", ref, err)
		}
		r.Digest = version
		return r, nil
	}
	if !validVersion(version) {
		return r, fmt.Errorf("bad plugin version in %q: a version is 1 to 128 letters, digits, '.', '+', '_' or '-', e.g. \"1.2.0\"", ref)
	}
	r.Version = version
	return r, nil
}

func checkDigest(d string) error {
	hex := strings.TrimPrefix(d, "sha256:")
	if len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return fmt.Errorf("a sha256 digest is \"sha256:\" and 64 lower-case hex digits, got %d characters", len(hex))
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 128 || !alnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func validVersion(s string) bool {
	if s == "" || len(s) > 128 || !alnum(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '.' && c != '_' && c != '-' && c != '+' {
			return false
		}
	}
	return true
}

// validIdent is true for letters, digits and '_' (stage variable names).
func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
