package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// opSchema is the wasmgate.operation.schema document (see
// host/config.OperationSchema); the schemas themselves are compiled from
// the same bytes.
type opSchema struct {
	Parameters []struct {
		Name     string          `json:"name"`
		In       string          `json:"in"`
		Required bool            `json:"required"`
		Style    string          `json:"style"`
		Explode  bool            `json:"explode"`
		Schema   json.RawMessage `json:"schema"`
		Content  string          `json:"content"`
	} `json:"parameters"`
	Body *struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"content"`
	} `json:"body"`
	Validator *docValidator `json:"validator"`
}

// docValidator is the document's x-amazon-apigateway-request-validator
// for the operation.
type docValidator struct {
	Name   string `json:"name"`
	Body   bool   `json:"body"`
	Params bool   `json:"params"`
}

// operation is what one operation's requests are checked against,
// compiled once per plugin instance.
type operation struct {
	params    []*param
	body      *body // nil: no request body declared
	validator *docValidator
}

type param struct {
	name, in string
	required bool
	style    string
	explode  bool
	kind     string // the type values are coerced to: string, integer, number, boolean, array, object, or "" (as is)
	items    string // the item kind of an array
	json     bool   // declared with content: the value is JSON
	schema   *jsonschema.Schema
	fast     *scalarCheck // nil: the library validates
}

type body struct {
	required bool
	media    []media
}

// media is one declared media type of the body.
type media struct {
	typ, sub string             // lower case; "*" for a wildcard
	schema   *jsonschema.Schema // nil: nothing to validate
}

const resourceURL = "https://wasmgate.invalid/operation.json"

// compile builds an operation's validators from its schema document.
func compile(doc []byte) (*operation, error) {
	var s opSchema
	if err := json.Unmarshal(doc, &s); err != nil {
		return nil, fmt.Errorf("the operation schema is not valid: %w", err)
	}
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("the operation schema is not valid: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "int32", Validate: intRange(32)})
	c.RegisterFormat(&jsonschema.Format{Name: "int64", Validate: intRange(64)})
	if err := c.AddResource(resourceURL, raw); err != nil {
		return nil, err
	}
	op := &operation{validator: s.Validator}
	for i, p := range s.Parameters {
		pv := &param{name: p.Name, in: p.In, required: p.Required, style: p.Style, explode: p.Explode, json: p.Content != ""}
		if p.In == "header" {
			pv.name = strings.ToLower(p.Name)
		}
		if len(p.Schema) > 0 {
			if pv.schema, err = c.Compile(fmt.Sprintf("%s#/parameters/%d/schema", resourceURL, i)); err != nil {
				return nil, fmt.Errorf("%s parameter %q: %w", p.In, p.Name, err)
			}
			pv.kind, pv.items = kinds(p.Schema, raw)
			if !pv.json {
				pv.fast = newScalarCheck(p.Schema)
			}
		}
		op.params = append(op.params, pv)
	}
	if b := s.Body; b != nil {
		op.body = &body{required: b.Required}
		for mt, m := range b.Content {
			typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
			e := media{typ: typ, sub: sub}
			if len(m.Schema) > 0 {
				loc := resourceURL + "#/body/content/" + escapePointer(mt) + "/schema"
				if e.schema, err = c.Compile(loc); err != nil {
					return nil, fmt.Errorf("request body %s: %w", mt, err)
				}
			}
			op.body.media = append(op.body.media, e)
		}
	}
	return op, nil
}

// match finds the declared media type for a request's content type:
// exact, then type/*, then */*. ok is false when none is declared for it.
func (b *body) match(contentType string) (m media, ok bool) {
	mt, _, _ := strings.Cut(contentType, ";")
	typ, sub, _ := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
	best := -1
	for _, e := range b.media {
		score := -1
		switch {
		case e.typ == typ && e.sub == sub:
			score = 2
		case e.typ == typ && e.sub == "*":
			score = 1
		case e.typ == "*" && e.sub == "*":
			score = 0
		}
		if score > best {
			best, m = score, e
		}
	}
	return m, best >= 0
}

// kinds finds the type a parameter's string value is coerced to: the
// schema's type (following $refs into $defs), and its items' type.
func kinds(schema json.RawMessage, root any) (kind, items string) {
	var s any
	if json.Unmarshal(schema, &s) != nil {
		return "", ""
	}
	kind, sm := typeOf(s, root, 0)
	if kind == "array" && sm != nil {
		items, _ = typeOf(sm["items"], root, 0)
	}
	return kind, items
}

// typeOf returns a schema's single non-null type and the schema object
// that has it.
func typeOf(s any, root any, hops int) (string, map[string]any) {
	m, ok := s.(map[string]any)
	if !ok || hops > 16 {
		return "", nil
	}
	if ref, ok := m["$ref"].(string); ok && strings.HasPrefix(ref, "#/$defs/") {
		defs, _ := root.(map[string]any)["$defs"].(map[string]any)
		return typeOf(defs[unescapePointer(strings.TrimPrefix(ref, "#/$defs/"))], root, hops+1)
	}
	switch t := m["type"].(type) {
	case string:
		return t, m
	case []any:
		var found string
		for _, e := range t {
			if s, _ := e.(string); s != "null" {
				if found != "" {
					return "", nil // several types: leave the value as it is
				}
				found = s
			}
		}
		return found, m
	}
	if all, ok := m["allOf"].([]any); ok {
		for _, sub := range all {
			if k, sm := typeOf(sub, root, hops+1); k != "" {
				return k, sm
			}
		}
	}
	return "", nil
}

// intRange is a format checking that an integer fits in bits.
func intRange(bits int) func(any) error {
	return func(v any) error {
		n, ok := v.(json.Number)
		if !ok {
			return nil // formats apply to their own type only
		}
		if !strings.ContainsAny(string(n), ".eE") {
			if _, err := strconv.ParseInt(string(n), 10, bits); err != nil {
				return fmt.Errorf("not an int%d", bits)
			}
			return nil
		}
		f, err := n.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > math.Ldexp(1, bits-1) {
			return fmt.Errorf("not an int%d", bits)
		}
		return nil
	}
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}
