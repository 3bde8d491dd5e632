package config

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// object is a strictly decoded mapping: every member must be one of the
// known fields, and every getter checks the member's type. Problems are
// recorded against the member's JSON pointer.
type object struct {
	probs *problems
	at    string // JSON pointer of the object
	m     map[string]any
}

// asObject checks that v is a mapping whose keys are all in known. what
// names the object in the error ("x-wasmgate-integration").
func asObject(probs *problems, v any, at, what string, known ...string) (object, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		probs.add(at, "%s must be an object, not %s", what, kindOf(v))
		return object{}, false
	}
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			probs.add(ptr(at, k), "unknown field %q in %s; known fields are %s", k, what, strings.Join(known, ", "))
		}
	}
	return object{probs: probs, at: at, m: m}, true
}

func (o object) has(k string) bool { _, ok := o.m[k]; return ok }

func (o object) ptr(k string) string { return ptr(o.at, k) }

// str returns a string member; "" when absent or mistyped (reported).
func (o object) str(k string) (string, bool) {
	v, ok := o.m[k]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		o.probs.add(o.ptr(k), "must be a string, not %s", kindOf(v))
		return "", false
	}
	return s, true
}

// required returns a non-empty string member, reporting its absence.
func (o object) required(k, hint string) (string, bool) {
	if !o.has(k) {
		o.probs.add(o.at, "%s is required%s", k, hint)
		return "", false
	}
	s, ok := o.str(k)
	if ok && s == "" {
		o.probs.add(o.ptr(k), "must not be empty%s", hint)
		return "", false
	}
	return s, ok
}

// integer returns an integer member within [lo, hi].
func (o object) integer(k string, lo, hi int64) (int64, bool) {
	v, ok := o.m[k]
	if !ok {
		return 0, false
	}
	i, ok := toInt(v)
	if !ok {
		o.probs.add(o.ptr(k), "must be an integer, not %s", kindOf(v))
		return 0, false
	}
	if i < lo || i > hi {
		o.probs.add(o.ptr(k), "%d is out of range; use %d to %d", i, lo, hi)
		return 0, false
	}
	return i, true
}

// strMap returns a member that maps strings to strings.
func (o object) strMap(k string) (map[string]string, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		return nil, ok
	}
	m, isMap := v.(map[string]any)
	if !isMap {
		o.probs.add(o.ptr(k), "must be an object of strings, not %s", kindOf(v))
		return nil, false
	}
	out := make(map[string]string, len(m))
	good := true
	for _, name := range sortedKeys(m) {
		s, ok := m[name].(string)
		if !ok {
			o.probs.add(ptr(o.ptr(k), name), "must be a string, not %s", kindOf(m[name]))
			good = false
			continue
		}
		out[name] = s
	}
	return out, good
}

// strList returns a member that is a list of strings.
func (o object) strList(k string) ([]string, bool) {
	v, ok := o.m[k]
	if !ok || v == nil {
		return nil, ok
	}
	l, isList := v.([]any)
	if !isList {
		o.probs.add(o.ptr(k), "must be a list of strings, not %s", kindOf(v))
		return nil, false
	}
	out := make([]string, 0, len(l))
	good := true
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			o.probs.add(idx(o.ptr(k), i), "must be a string, not %s", kindOf(e))
			good = false
			continue
		}
		out = append(out, s)
	}
	return out, good
}

// toInt accepts integers, and floats without a fraction.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

// kindOf names the JSON type of a plain value for error messages.
func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("the string %q", truncate(x, 40))
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case int64, float64:
		return fmt.Sprintf("the number %v", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lookupPointer resolves a JSON pointer in plain values.
func lookupPointer(doc any, p string) (any, bool) {
	cur := doc
	for _, tok := range splitPointer(p) {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(c) || fmt.Sprint(i) != tok {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// statusCode reads an HTTP status code (100 to 599), given as a number or
// a string as AWS documents do; a bad one is reported and ok is false.
func (o object) statusCode(key string) (status int, ok bool) {
	v := o.m[key]
	var s int64 = -1
	switch x := v.(type) {
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			s = n
		}
	default:
		if n, ok := toInt(x); ok {
			s = n
		}
	}
	if s < 100 || s > 599 {
		o.probs.add(o.ptr(key), "must be an HTTP status code (100 to 599), not %s", kindOf(v))
		return int(s), false
	}
	return int(s), true
}
