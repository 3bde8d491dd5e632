package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// kinDocument loads plain document values with kin-openapi, converting
// Swagger 2.0 to OpenAPI 3. Greedy path parameters ("{proxy+}") are
// renamed "{proxy}" for kin-openapi, which would otherwise look for a
// parameter called "proxy+"; renamed maps the new path keys back.
func kinDocument(doc map[string]any, format string) (d3 *openapi3.T, renamed map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			d3, err = nil, fmt.Errorf("the OpenAPI loader failed on this document: %v", r)
		}
	}()
	renamed = map[string]string{}
	doc = maps.Clone(doc)
	if paths, ok := doc["paths"].(map[string]any); ok {
		out := make(map[string]any, len(paths))
		for k, v := range paths {
			nk := strings.ReplaceAll(k, "+}", "}")
			if _, clash := paths[nk]; clash && nk != k {
				nk = k // "/a/{p}" and "/a/{p+}" both declared: keep the original
			}
			out[nk] = v
			renamed[nk] = k
		}
		doc["paths"] = out
	}
	data := encodeJSON(doc)
	if format == FormatSwagger2 {
		var d2 openapi2.T
		if err := json.Unmarshal(data, &d2); err != nil {
			return nil, renamed, fmt.Errorf("invalid Swagger 2.0 document: %w", err)
		}
		d3, err := openapi2conv.ToV3(&d2)
		if err != nil {
			return nil, renamed, fmt.Errorf("cannot convert the Swagger 2.0 document to OpenAPI 3: %w", err)
		}
		return d3, renamed, nil
	}
	d3, err = openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, renamed, fmt.Errorf("invalid OpenAPI document: %w", err)
	}
	return d3, renamed, nil
}

// validateOpenAPI runs kin-openapi's document validation and records its
// findings with the best location their error chain gives.
func (p *parser) validateOpenAPI(format string) {
	d3, renamed, err := kinDocument(p.doc, format)
	var dre *openapi3.DisallowedExternalRefError
	if errors.As(err, &dre) {
		at, _ := findRef(p.doc, "", dre.Ref)
		p.probs.add(at, "external $ref %q is not followed: a deployment is one self-contained document; move the definition into it", dre.Ref)
		return
	}
	if err != nil {
		at, reason := loadProblem(err)
		p.probs.add(at, "%s", reason)
		return
	}
	p.kin, p.renamed = d3, renamed
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the OpenAPI validator failed on this document: %v", r)
			}
		}()
		return d3.Validate(context.Background(), openapi3.EnableMultiError())
	}()
	if err == nil {
		return
	}
	var list []error
	if me, ok := err.(openapi3.MultiError); ok {
		list = me
	} else {
		list = []error{err}
	}
	for _, e := range list {
		if at, reason, ok := p.kinLocation(e, format, renamed); ok {
			p.probs.add(at, "%s", reason)
		}
	}
}

var (
	unmarshalRE = regexp.MustCompile(`json: cannot unmarshal (\w+)(?: \S+)? into (?:Go struct )?field (\S+) of type ([^\s,]+)`)
	inPointerRE = regexp.MustCompile(` in (/[^ ]*)$`)
)

// findRef finds the first "$ref": ref member below v, in document order of
// sorted keys, and returns its JSON pointer.
func findRef(v any, at, ref string) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		if x["$ref"] == ref {
			return at + "/$ref", true
		}
		for _, k := range sortedKeys(x) {
			if p, ok := findRef(x[k], ptr(at, k), ref); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := findRef(e, idx(at, i), ref); ok {
				return p, true
			}
		}
	}
	return "", false
}

// loadProblem makes a readable problem of a kin-openapi load error: a
// value of the wrong type, with the JSON pointer kin-openapi appends when
// it knows it.
func loadProblem(err error) (at, reason string) {
	msg := err.Error()
	prefix, _, _ := strings.Cut(msg, ":")
	if m := inPointerRE.FindStringSubmatch(msg); m != nil {
		at = m[1]
	}
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return at, msg
	}
	got, field, want := m[1], m[2], m[3]
	kinds := map[string]string{"string": "a string", "number": "a number", "object": "an object", "array": "a list", "bool": "a boolean"}
	if k, ok := kinds[got]; ok {
		got = k
	}
	if at != "" {
		return at, fmt.Sprintf("%s: must be %s, not %s", prefix, goTypeName(want), got)
	}
	return "", fmt.Sprintf("%s: %s must be %s, not %s", prefix, field, goTypeName(want), got)
}

// goTypeName describes the Go type kin-openapi decodes into.
func goTypeName(t string) string {
	switch {
	case t == "[]string":
		return "a list of strings"
	case t == "string":
		return "a string"
	case t == "bool":
		return "a boolean"
	case strings.HasPrefix(t, "uint"):
		return "a non-negative integer"
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	}
	return "an object"
}

// kinLocation derives a JSON pointer from kin-openapi's context wrappers
// and keeps the innermost message as the reason. It drops the path
// template errors (undeclared parameters, missing leading slash,
// conflicting templates), which the parser reports itself, at the path.
func (p *parser) kinLocation(err error, format string, renamed map[string]string) (at, reason string, ok bool) {
	var (
		ppe *openapi3.PathParametersError
		pse *openapi3.PathMustStartWithSlashError
		cpe *openapi3.ConflictingPathsError
	)
	if errors.As(err, &ppe) || errors.As(err, &pse) || errors.As(err, &cpe) {
		return "", "", false
	}
	reason = err.Error()
	swagger := format == FormatSwagger2
	for {
		switch e := err.(type) {
		case *openapi3.SectionValidationError:
			switch e.Section {
			case "external docs":
				at = "/externalDocs"
			case "servers":
				if !swagger {
					at = "/servers"
				}
			case "components":
				if !swagger {
					at = "/components"
				}
			default:
				at = ptr("", e.Section)
			}
			err = e.Cause
			continue
		case *openapi3.PathValidationError:
			path := e.Path
			if orig, ok := renamed[path]; ok {
				path = orig
			}
			at = ptr("/paths", path)
			err = e.Cause
			continue
		case *openapi3.OperationValidationError:
			at = ptr(at, strings.ToLower(e.Method))
			err = e.Cause
			continue
		case *openapi3.ComponentValidationError:
			at = componentPointer(e.Section, e.Name, swagger)
			err = e.Cause
			continue
		case *openapi3.TagValidationError:
			err = e.Cause
			continue
		case *openapi3.ParameterFieldValidationError:
			// The message names the parameter: keep it, point at it.
			reason = e.Error()
			list, _ := lookupPointer(p.doc, at+"/parameters")
			params, _ := list.([]any)
			for i, pv := range params {
				if pm, _ := pv.(map[string]any); pm != nil && pm["name"] == e.ParameterName {
					at = ptr(idx(at+"/parameters", i), e.Field)
					var sve *openapi3.SchemaValueError
					if errors.As(e.Cause, &sve) && !swagger {
						at = ptr(at, sve.ValueKind)
					}
					break
				}
			}
			return at, reason, true
		case *openapi3.RequiredFieldError:
			// Field is dotted from the section: "info.version".
			if sec, rest, ok := strings.Cut(e.Field, "."); ok && strings.HasSuffix(at, "/"+sec) {
				at = ptr(at, strings.Split(rest, ".")...)
			}
		}
		break
	}
	return at, err.Error(), true
}

// componentPointer maps a kin-openapi component to its place in the
// document (Swagger 2.0 keeps them at the root under other names).
func componentPointer(section, name string, swagger bool) string {
	v3 := map[string]string{
		"schema": "schemas", "parameter": "parameters", "header": "headers",
		"request body": "requestBodies", "response": "responses",
		"security scheme": "securitySchemes", "example": "examples",
		"link": "links", "callback": "callbacks",
	}
	v2 := map[string]string{
		"schema": "definitions", "parameter": "parameters",
		"response": "responses", "security scheme": "securityDefinitions",
	}
	if swagger {
		if s, ok := v2[section]; ok {
			return ptr("", s, name)
		}
		return ""
	}
	if s, ok := v3[section]; ok {
		return ptr("/components", s, name)
	}
	return "/components"
}
