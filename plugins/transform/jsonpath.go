package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// jsonPath is a compiled JSONPath of the supported subset: the root "$"
// followed by member names (.name, ['name'], ["name"]) and array indexes
// ([0], [-1] from the end). Wildcards, recursive descent, filters and
// slices are rejected when the configuration is loaded.
type jsonPath struct {
	text  string
	steps []pathStep
}

type pathStep struct {
	key   string
	index int
	isIdx bool
}

func parseJSONPath(p string) (jsonPath, error) {
	jp := jsonPath{text: p}
	bad := func(why string) (jsonPath, error) {
		return jsonPath{}, fmt.Errorf("JSONPath %q: %s; supported: $, .name, ['name'], [index]", p, why)
	}
	if !strings.HasPrefix(p, "$") {
		return bad("it must start with $")
	}
	s := p[1:]
	for s != "" {
		switch {
		case strings.HasPrefix(s, ".."):
			return bad("recursive descent (..) is not supported")
		case s[0] == '.':
			s = s[1:]
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			name := s[:end]
			if name == "" {
				return bad("empty member name")
			}
			if name == "*" {
				return bad("wildcards are not supported")
			}
			if strings.ContainsAny(name, "]()'\" \t\r\n?@") {
				return bad(fmt.Sprintf("member name %q needs quoting: use ['name']", name))
			}
			jp.steps = append(jp.steps, pathStep{key: name})
			s = s[end:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return bad("unterminated [")
			}
			in := strings.TrimSpace(s[1:end])
			switch {
			case len(in) >= 2 && (in[0] == '\'' && in[len(in)-1] == '\'' || in[0] == '"' && in[len(in)-1] == '"'):
				name := in[1 : len(in)-1]
				if strings.ContainsAny(name, "'\"") {
					return bad("quotes inside a quoted member name are not supported")
				}
				jp.steps = append(jp.steps, pathStep{key: name})
			case in == "*":
				return bad("wildcards are not supported")
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return bad(fmt.Sprintf("[%s] is not an index or a quoted member name (filters and slices are not supported)", in))
				}
				jp.steps = append(jp.steps, pathStep{index: n, isIdx: true})
			}
			s = s[end+1:]
		default:
			return bad(fmt.Sprintf("unexpected %q", s[:1]))
		}
	}
	return jp, nil
}

// eval returns the value at the path and whether it exists.
func (jp jsonPath) eval(root any) (any, bool) {
	v := root
	for _, st := range jp.steps {
		switch x := v.(type) {
		case map[string]any:
			if st.isIdx {
				return nil, false
			}
			var ok bool
			if v, ok = x[st.key]; !ok {
				return nil, false
			}
		case []any:
			if !st.isIdx {
				return nil, false
			}
			i := st.index
			if i < 0 {
				i += len(x)
			}
			if i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// parseJSONBody decodes a body for $input.json and $input.path. An empty
// body is an empty object, as in API Gateway.
func parseJSONBody(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}

// jsonText encodes a value as JSON (no HTML escaping).
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// valueText renders a value the way $input.path prints it: strings raw,
// numbers and booleans as literals, null as "", objects and arrays as
// JSON.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return jsonText(v)
}
