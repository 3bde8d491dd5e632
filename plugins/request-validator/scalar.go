package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// scalar is a fast check for the common parameter schema: one scalar
// type with enum, pattern, length, bounds and a few formats. The JSON
// Schema library allocates much per validation (big.Rat numbers, its
// own state), which costs tens of microseconds a parameter in Wasm; this
// costs a comparison or two. Schemas with anything else use the library.
type scalarCheck struct {
	kind           string // string, integer, number or boolean
	enum           []any  // string, float64 or bool
	pattern        *regexp.Regexp
	minLen, maxLen int // -1: none
	min, max       *float64
	exclMin        bool
	exclMax        bool
	format         string // one of scalarFormats, or "" (unchecked)
}

// scalarKeys are the keywords the fast check understands.
var scalarKeys = map[string]bool{
	"type": true, "enum": true, "pattern": true, "minLength": true, "maxLength": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true, "exclusiveMaximum": true, "format": true,
}

// libraryFormats are the formats the library checks; those the fast check
// does not are left to it. Other formats (float, double, byte, password)
// are annotations only, for both.
var libraryFormats = map[string]bool{
	"json-pointer": true, "relative-json-pointer": true, "uuid": true, "duration": true, "period": true,
	"ipv4": true, "ipv6": true, "hostname": true, "email": true, "date": true, "time": true,
	"date-time": true, "uri": true, "iri": true, "uri-reference": true, "iri-reference": true,
	"uri-template": true, "semver": true, "regex": true, "int32": true, "int64": true,
}

var scalarFormats = map[string]bool{"uuid": true, "email": true, "date": true, "date-time": true, "int32": true, "int64": true}

// newScalarCheck returns the fast check for a parameter schema, or nil
// when the library must validate it.
func newScalarCheck(schema json.RawMessage) *scalarCheck {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(schema)))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	s := &scalarCheck{minLen: -1, maxLen: -1}
	for k := range m {
		if !scalarKeys[k] {
			return nil
		}
	}
	switch t := m["type"].(type) {
	case string:
		s.kind = t
	case []any:
		for _, e := range t {
			if e != "null" { // a parameter value is never null
				if s.kind != "" {
					return nil
				}
				s.kind, _ = e.(string)
			}
		}
	}
	switch s.kind {
	case "string", "integer", "number", "boolean":
	default:
		return nil
	}
	if f, ok := m["format"].(string); ok {
		if libraryFormats[f] && !scalarFormats[f] {
			return nil
		}
		if scalarFormats[f] {
			s.format = f
		}
	}
	if enum, ok := m["enum"].([]any); ok {
		for _, e := range enum {
			switch v := e.(type) {
			case string, bool:
				s.enum = append(s.enum, v)
			case json.Number:
				f, err := v.Float64()
				if err != nil {
					return nil
				}
				s.enum = append(s.enum, f)
			default:
				return nil
			}
		}
	}
	if p, ok := m["pattern"].(string); ok {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil // the library reports it
		}
		s.pattern = re
	}
	num := func(k string) (*float64, bool) {
		n, ok := m[k].(json.Number)
		if !ok {
			return nil, m[k] == nil
		}
		f, err := n.Float64()
		return &f, err == nil
	}
	var ok1, ok2, ok3, ok4 bool
	var emin, emax *float64
	s.min, ok1 = num("minimum")
	s.max, ok2 = num("maximum")
	emin, ok3 = num("exclusiveMinimum")
	emax, ok4 = num("exclusiveMaximum")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return nil
	}
	if emin != nil && (s.min == nil || *emin >= *s.min) {
		s.min, s.exclMin = emin, true
	}
	if emax != nil && (s.max == nil || *emax <= *s.max) {
		s.max, s.exclMax = emax, true
	}
	for k, dst := range map[string]*int{"minLength": &s.minLen, "maxLength": &s.maxLen} {
		if n, ok := m[k].(json.Number); ok {
			v, err := strconv.Atoi(string(n))
			if err != nil {
				return nil
			}
			*dst = v
		}
	}
	return s
}

// check validates one value (already converted by scalar: json.Number,
// bool or string); "" when it is valid.
func (s *scalarCheck) check(v any) string {
	var f float64
	str, isStr := v.(string)
	if n, ok := v.(json.Number); ok {
		str = string(n)
		f, _ = n.Float64()
	}
	if s.enum != nil {
		found := false
		for _, e := range s.enum {
			switch e := e.(type) {
			case string:
				found = isStr && e == str
			case float64:
				_, isNum := v.(json.Number)
				found = isNum && e == f
			case bool:
				found = v == e
			}
			if found {
				break
			}
		}
		if !found {
			return "value must be one of " + enumList(s.enum)
		}
	}
	if isStr {
		if n := utf8.RuneCountInString(str); s.minLen >= 0 && n < s.minLen {
			return fmt.Sprintf("must be at least %d characters long", s.minLen)
		} else if s.maxLen >= 0 && n > s.maxLen {
			return fmt.Sprintf("must be at most %d characters long", s.maxLen)
		}
		if s.pattern != nil && !s.pattern.MatchString(str) {
			return fmt.Sprintf("'%s' does not match pattern '%s'", str, s.pattern)
		}
	}
	if _, isNum := v.(json.Number); isNum {
		switch {
		case s.min != nil && s.exclMin && f <= *s.min:
			return "must be > " + fnum(*s.min)
		case s.min != nil && !s.exclMin && f < *s.min:
			return "must be >= " + fnum(*s.min)
		case s.max != nil && s.exclMax && f >= *s.max:
			return "must be < " + fnum(*s.max)
		case s.max != nil && !s.exclMax && f > *s.max:
			return "must be <= " + fnum(*s.max)
		}
	}
	if s.format != "" && !formatOK(s.format, v) {
		return fmt.Sprintf("'%s' is not valid %s", str, s.format)
	}
	return ""
}

func formatOK(format string, v any) bool {
	switch v := v.(type) {
	case json.Number:
		switch format {
		case "int32":
			return intRange(32)(v) == nil
		case "int64":
			return intRange(64)(v) == nil
		}
	case string:
		switch format {
		case "date-time":
			_, err := time.Parse(time.RFC3339Nano, strings.ToUpper(v))
			return err == nil
		case "date":
			_, err := time.Parse(time.DateOnly, v)
			return err == nil
		case "uuid":
			return isUUID(v)
		case "email":
			a, err := mail.ParseAddress(v)
			return err == nil && a.Address == v
		}
	}
	return true
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func fnum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func enumList(enum []any) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		switch e := e.(type) {
		case string:
			parts[i] = "'" + e + "'"
		case float64:
			parts[i] = fnum(e)
		default:
			parts[i] = fmt.Sprint(e)
		}
	}
	return strings.Join(parts, ", ")
}
