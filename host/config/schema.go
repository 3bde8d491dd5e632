package config

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Request validators, as declared by x-amazon-apigateway-request-validators
// (at the root) and selected by x-amazon-apigateway-request-validator (at
// the root for every operation, or on one operation).
const (
	extRequestValidators = "x-amazon-apigateway-request-validators"
	extRequestValidator  = "x-amazon-apigateway-request-validator"
)

// OperationSchema is the shape of Operation.Schema: what a request to the
// operation must look like, as one self-contained JSON document. Schemas
// are JSON Schema 2020-12: OpenAPI 3.0's nullable, boolean
// exclusiveMinimum/exclusiveMaximum and array-valued items are rewritten,
// annotations (description, example, discriminator, x-*) are dropped, and
// every $ref points into Defs ("#/$defs/Pet"), so recursive schemas stay
// finite. Swagger 2.0 documents are converted by kin-openapi first.
type OperationSchema struct {
	// Parameters are the operation's parameters (its own, then the path
	// item's it does not override), in path, query, header and cookie.
	Parameters []ParamSchema `json:"parameters"`
	// Body is the request body; nil when the operation declares none.
	Body *BodySchema `json:"body,omitempty"`
	// Validator is what the document's x-amazon-apigateway-request-validator
	// asks to validate for this operation; nil when it names none.
	Validator *RequestValidator `json:"validator,omitempty"`
	// Defs are the schemas $refs point to, by name: a component schema
	// by its name ("Pet"), another target by its pointer with "/"
	// replaced by "." ("components.parameters.limit.schema").
	Defs map[string]any `json:"$defs,omitempty"`
}

// ParamSchema is one parameter of an OperationSchema.
type ParamSchema struct {
	Name     string `json:"name"`
	In       string `json:"in"` // path, query, header or cookie
	Required bool   `json:"required"`
	// Style and Explode are the serialization, defaults applied: simple
	// and false in path and header, form and true in query and cookie.
	Style   string `json:"style"`
	Explode bool   `json:"explode"`
	// Schema is the value's schema; nil when the parameter has none.
	Schema any `json:"schema,omitempty"`
	// Content is the media type of a parameter declared with content
	// rather than schema (its value is that media type, e.g. JSON).
	Content string `json:"content,omitempty"`
}

// BodySchema is the request body of an OperationSchema.
type BodySchema struct {
	Required bool `json:"required"`
	// Content has one entry per declared media type ("application/json",
	// "application/*", "*/*"); JSON media types (application/json and
	// */*+json) carry their schema, when the document gives one.
	Content map[string]MediaSchema `json:"content"`
}

// MediaSchema is one media type of a BodySchema.
type MediaSchema struct {
	Schema any `json:"schema,omitempty"`
}

// RequestValidator is an x-amazon-apigateway-request-validators entry.
type RequestValidator struct {
	Name   string `json:"name"`
	Body   bool   `json:"body"`   // validateRequestBody
	Params bool   `json:"params"` // validateRequestParameters
}

// operationSchemas fills each operation's Schema. src is the document as
// OpenAPI 3 plain values (Swagger 2.0 converted); kinPath maps an
// operation's path to its key in src. Failing to describe an operation is
// not a document error: that operation is left without a schema.
func (p *parser) operationSchemas(api *API, src map[string]any, kinPath func(string) string) {
	paths, _ := src["paths"].(map[string]any)
	validators, _ := p.doc[extRequestValidators].(map[string]any)
	rootValidator, _ := p.doc[extRequestValidator].(string)
	rawPaths, _ := p.doc["paths"].(map[string]any)
	for _, op := range api.Operations {
		item, _ := paths[kinPath(op.Path)].(map[string]any)
		if item == nil {
			continue
		}
		b := &schemaBuilder{src: src, defs: map[string]any{}}
		var om map[string]any
		if op.Method != MethodAny {
			om, _ = item[strings.ToLower(op.Method)].(map[string]any)
		}
		s := OperationSchema{Parameters: []ParamSchema{}}
		seen := map[string]bool{}
		for _, list := range []any{om["parameters"], item["parameters"]} {
			l, _ := list.([]any)
			for _, pv := range l {
				ps, ok := b.param(pv)
				if ok && !seen[ps.In+"\x00"+ps.Name] {
					seen[ps.In+"\x00"+ps.Name] = true
					s.Parameters = append(s.Parameters, ps)
				}
			}
		}
		if rb, ok := b.resolve(om["requestBody"]).(map[string]any); ok {
			s.Body = b.body(rb)
		}
		// The validator comes from the document as written (the same in
		// both formats).
		rawItem, _ := rawPaths[op.Path].(map[string]any)
		key := strings.ToLower(op.Method)
		if op.Method == MethodAny {
			key = extAnyMethod
		}
		rawOp, _ := rawItem[key].(map[string]any)
		name := rootValidator
		if n, ok := rawOp[extRequestValidator].(string); ok {
			name = n
		}
		if v, ok := validators[name].(map[string]any); ok {
			body, _ := v["validateRequestBody"].(bool)
			params, _ := v["validateRequestParameters"].(bool)
			s.Validator = &RequestValidator{Name: name, Body: body, Params: params}
		}
		b.finish()
		if len(b.defs) > 0 {
			s.Defs = b.defs
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			continue
		}
		op.Schema = bytes.TrimRight(buf.Bytes(), "\n")
	}
}

// schemaBuilder converts the schemas of one operation, collecting the
// $ref targets into defs.
type schemaBuilder struct {
	src     map[string]any
	defs    map[string]any
	pending []string // pointers of targets to convert
	names   map[string]string
}

// resolve follows local $refs of a parameter or request body (not a
// schema), at most 16 hops.
func (b *schemaBuilder) resolve(v any) any {
	for hops := 0; hops < 16; hops++ {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil
		}
		v, _ = lookupPointer(b.src, ref[1:])
	}
	return nil
}

func (b *schemaBuilder) param(v any) (ParamSchema, bool) {
	m, ok := b.resolve(v).(map[string]any)
	if !ok {
		return ParamSchema{}, false
	}
	ps := ParamSchema{}
	ps.Name, _ = m["name"].(string)
	ps.In, _ = m["in"].(string)
	ps.Required, _ = m["required"].(bool)
	switch ps.In {
	case "path":
		ps.Required, ps.Style = true, "simple"
	case "header":
		ps.Style = "simple"
	case "query", "cookie":
		ps.Style, ps.Explode = "form", true
	default:
		return ParamSchema{}, false
	}
	if ps.Name == "" {
		return ParamSchema{}, false
	}
	if s, ok := m["style"].(string); ok && s != "" {
		ps.Style = s
	}
	if e, ok := m["explode"].(bool); ok {
		ps.Explode = e
	} else if _, set := m["style"]; set {
		ps.Explode = ps.Style == "form" // the default explode follows the style
	}
	if s, ok := m["schema"]; ok {
		ps.Schema = b.schema(s, 0)
	} else if c, ok := m["content"].(map[string]any); ok {
		for _, mt := range sortedKeys(c) {
			ps.Content = mt
			if mo, ok := c[mt].(map[string]any); ok && mo["schema"] != nil {
				ps.Schema = b.schema(mo["schema"], 0)
			}
			break
		}
	}
	return ps, true
}

func (b *schemaBuilder) body(rb map[string]any) *BodySchema {
	bs := &BodySchema{Content: map[string]MediaSchema{}}
	bs.Required, _ = rb["required"].(bool)
	content, _ := rb["content"].(map[string]any)
	for _, mt := range sortedKeys(content) {
		var ms MediaSchema
		if mo, ok := content[mt].(map[string]any); ok && mo["schema"] != nil && IsJSONMediaType(mt) {
			ms.Schema = b.schema(mo["schema"], 0)
		}
		bs.Content[mt] = ms
	}
	return bs
}

// IsJSONMediaType reports whether a media type (parameters allowed) is
// JSON: application/json or a +json suffix.
func IsJSONMediaType(mt string) bool {
	mt, _, _ = strings.Cut(mt, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// Schema keywords whose value is one schema, a list of schemas, or a map
// of schemas; and the validation keywords kept as they are. Everything
// else (annotations, discriminator, xml, extensions) is dropped.
var (
	oneSchema = map[string]bool{
		"not": true, "additionalProperties": true, "contains": true, "propertyNames": true,
		"if": true, "then": true, "else": true, "unevaluatedItems": true,
		"unevaluatedProperties": true, "contentSchema": true,
	}
	schemaList = map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true}
	schemaMap  = map[string]bool{"properties": true, "patternProperties": true, "dependentSchemas": true}
	keptAsIs   = map[string]bool{
		"enum": true, "const": true, "format": true, "pattern": true,
		"minLength": true, "maxLength": true, "minimum": true, "maximum": true, "multipleOf": true,
		"minItems": true, "maxItems": true, "uniqueItems": true, "minContains": true, "maxContains": true,
		"required": true, "minProperties": true, "maxProperties": true, "dependentRequired": true,
		"contentMediaType": true, "contentEncoding": true,
	}
)

// maxSchemaDepth bounds the nesting of one converted schema (refs do not
// count: they are not followed here).
const maxSchemaDepth = 128

// schema converts an OpenAPI schema (3.0 or 3.1) to JSON Schema 2020-12.
func (b *schemaBuilder) schema(v any, depth int) any {
	if depth > maxSchemaDepth {
		return true
	}
	m, ok := v.(map[string]any)
	if !ok {
		if bv, ok := v.(bool); ok {
			return bv
		}
		return true
	}
	if ref, ok := m["$ref"].(string); ok {
		// Siblings of a $ref are ignored in OpenAPI 3.0; in 3.1 they
		// apply with it, so keep them beside the reference.
		out := map[string]any{"$ref": b.ref(ref)}
		rest := make(map[string]any, len(m))
		for k, v := range m {
			if k != "$ref" {
				rest[k] = v
			}
		}
		if len(rest) > 0 {
			if s, ok := b.schema(rest, depth+1).(map[string]any); ok && len(s) > 0 {
				out = map[string]any{"allOf": []any{out, s}}
			}
		}
		return out
	}
	out := map[string]any{}
	nullable, _ := m["nullable"].(bool)
	for k, val := range m {
		switch {
		case k == "type":
			out[k] = val
		case k == "items":
			if list, ok := val.([]any); ok {
				out["prefixItems"] = b.list(list, depth)
			} else {
				out[k] = b.schema(val, depth+1)
			}
		case k == "exclusiveMinimum" || k == "exclusiveMaximum":
			if bv, isBool := val.(bool); isBool {
				bound := "minimum"
				if k == "exclusiveMaximum" {
					bound = "maximum"
				}
				if n, ok := m[bound]; ok && bv {
					out[k] = n
				}
			} else {
				out[k] = val
			}
		case oneSchema[k]:
			out[k] = b.schema(val, depth+1)
		case schemaList[k]:
			if list, ok := val.([]any); ok {
				out[k] = b.list(list, depth)
			}
		case schemaMap[k]:
			if mm, ok := val.(map[string]any); ok {
				conv := make(map[string]any, len(mm))
				for name, s := range mm {
					conv[name] = b.schema(s, depth+1)
				}
				out[k] = conv
			}
		case keptAsIs[k]:
			out[k] = val
		}
	}
	// OpenAPI 3.0's boolean exclusive bounds replaced the plain bound.
	if bv, _ := m["exclusiveMinimum"].(bool); bv {
		delete(out, "minimum")
	}
	if bv, _ := m["exclusiveMaximum"].(bool); bv {
		delete(out, "maximum")
	}
	if nullable {
		switch t := out["type"].(type) {
		case string:
			out["type"] = []any{t, "null"}
		case []any:
			if !containsValue(t, "null") {
				out["type"] = append(append([]any{}, t...), "null")
			}
		}
	}
	return out
}

func (b *schemaBuilder) list(list []any, depth int) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = b.schema(s, depth+1)
	}
	return out
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if e == v {
			return true
		}
	}
	return false
}

// ref rewrites a $ref to its entry in defs, queueing the target for
// conversion. A reference that does not resolve in the document becomes
// a reference to a missing entry, which a validator reports.
func (b *schemaBuilder) ref(ref string) string {
	if b.names == nil {
		b.names = map[string]string{}
	}
	if !strings.HasPrefix(ref, "#/") {
		return ref // external: kin-openapi refused it already
	}
	if name, ok := b.names[ref]; ok {
		return "#/$defs/" + escapeToken(name)
	}
	name := strings.TrimPrefix(ref, "#/components/schemas/")
	if name == ref {
		name = strings.ReplaceAll(strings.TrimPrefix(ref, "#/"), "/", ".")
	} else {
		name = unescapeToken(name)
	}
	b.names[ref] = name
	b.pending = append(b.pending, ref)
	return "#/$defs/" + escapeToken(name)
}

// finish converts the queued $ref targets (and theirs).
func (b *schemaBuilder) finish() {
	for len(b.pending) > 0 {
		ref := b.pending[0]
		b.pending = b.pending[1:]
		target, ok := lookupPointer(b.src, ref[1:])
		if !ok {
			continue
		}
		b.defs[b.names[ref]] = b.schema(target, 0)
	}
}
