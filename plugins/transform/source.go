package main

import (
	"fmt"
	"strings"
)

// source is a parameter mapping expression, in API Gateway's syntax:
//
//	request:  method.request.header.NAME, method.request.multivalueheader.NAME,
//	          method.request.querystring.NAME, method.request.multivaluequerystring.NAME,
//	          method.request.path.NAME, method.request.body, method.request.body.JSONPATH
//	response: integration.response.header.NAME, integration.response.multivalueheader.NAME,
//	          integration.response.body, integration.response.body.JSONPATH
//	both:     context.NAME, stageVariables.NAME, 'literal'
type source struct {
	kind sourceKind
	name string   // header, parameter, context or stage variable name; literal value
	path jsonPath // srcBodyPath
}

type sourceKind uint8

const (
	srcLiteral sourceKind = iota
	srcHeader
	srcMultiHeader
	srcQuery
	srcMultiQuery
	srcPath
	srcBody
	srcBodyPath
	srcContext
	srcStageVar
)

type sourcePrefix struct {
	kind   sourceKind
	prefix string
}

func (s source) needsBody() bool { return s.kind == srcBody || s.kind == srcBodyPath }

// parseSource compiles an expression for the request (response false) or
// the response side.
func parseSource(expr string, response bool) (source, error) {
	if len(expr) >= 2 && expr[0] == '\'' && expr[len(expr)-1] == '\'' {
		v := expr[1 : len(expr)-1]
		if strings.ContainsAny(v, "\r\n\x00") {
			return source{}, fmt.Errorf("the literal %s contains CR, LF or NUL", expr)
		}
		return source{kind: srcLiteral, name: v}, nil
	}
	named := func(kind sourceKind, prefix string) (source, bool, error) {
		name, ok := strings.CutPrefix(expr, prefix)
		if !ok {
			return source{}, false, nil
		}
		if name == "" {
			return source{}, true, fmt.Errorf("%q: the name after %s is missing", expr, prefix)
		}
		if kind == srcHeader || kind == srcMultiHeader {
			name = strings.ToLower(name)
			if !validHeaderName(name) {
				return source{}, true, fmt.Errorf("%q: %q is not a valid header name", expr, name)
			}
		}
		if kind == srcContext && !isContextVar(name) {
			return source{}, true, fmt.Errorf("%q: context.%s is not supported; use one of %s", expr, name, contextList())
		}
		return source{kind: kind, name: name}, true, nil
	}
	prefixes := []sourcePrefix{{srcContext, "context."}, {srcStageVar, "stageVariables."}}
	body := "method.request.body"
	if response {
		body = "integration.response.body"
		prefixes = append(prefixes,
			sourcePrefix{srcHeader, "integration.response.header."},
			sourcePrefix{srcMultiHeader, "integration.response.multivalueheader."})
	} else {
		prefixes = append(prefixes,
			sourcePrefix{srcHeader, "method.request.header."},
			sourcePrefix{srcMultiHeader, "method.request.multivalueheader."},
			sourcePrefix{srcQuery, "method.request.querystring."},
			sourcePrefix{srcMultiQuery, "method.request.multivaluequerystring."},
			sourcePrefix{srcPath, "method.request.path."})
	}
	if expr == body {
		return source{kind: srcBody}, nil
	}
	if rest, ok := strings.CutPrefix(expr, body+"."); ok {
		p := rest
		if !strings.HasPrefix(p, "$") {
			p = "$." + p
		}
		jp, err := parseJSONPath(p)
		if err != nil {
			return source{}, fmt.Errorf("%q: %w", expr, err)
		}
		return source{kind: srcBodyPath, path: jp}, nil
	}
	for _, p := range prefixes {
		if s, ok, err := named(p.kind, p.prefix); ok {
			return s, err
		}
	}
	if response {
		return source{}, fmt.Errorf("unsupported source %q; use integration.response.header.NAME, integration.response.multivalueheader.NAME, integration.response.body, integration.response.body.JSONPATH, context.NAME, stageVariables.NAME or a quoted 'literal'", expr)
	}
	return source{}, fmt.Errorf("unsupported source %q; use method.request.header.NAME, method.request.multivalueheader.NAME, method.request.querystring.NAME, method.request.multivaluequerystring.NAME, method.request.path.NAME, method.request.body, method.request.body.JSONPATH, context.NAME, stageVariables.NAME or a quoted 'literal'", expr)
}

// sourceEnv is what sources read: the request (or, for response mappings,
// the upstream response's headers and body).
type sourceEnv interface {
	headerValues(name string) []string
	queryValues(name string) []string
	pathParam(name string) (string, bool)
	bodyText() string
	bodyJSON() (any, error)
	contextVar(name string) string
	stageVar(name string) (string, bool)
}

// eval returns the source's values (several for multi-value sources);
// none when it is absent.
func (s source) eval(env sourceEnv) []string {
	last := func(vs []string) []string {
		if len(vs) == 0 {
			return nil
		}
		return vs[len(vs)-1:]
	}
	switch s.kind {
	case srcLiteral:
		return []string{s.name}
	case srcHeader:
		return last(env.headerValues(s.name))
	case srcMultiHeader:
		return env.headerValues(s.name)
	case srcQuery:
		return last(env.queryValues(s.name))
	case srcMultiQuery:
		return env.queryValues(s.name)
	case srcPath:
		if v, ok := env.pathParam(s.name); ok {
			return []string{v}
		}
	case srcBody:
		if b := env.bodyText(); b != "" {
			return []string{b}
		}
	case srcBodyPath:
		root, err := env.bodyJSON()
		if err != nil {
			return nil
		}
		if v, ok := s.path.eval(root); ok && v != nil {
			return []string{valueText(v)}
		}
	case srcContext:
		if v := env.contextVar(s.name); v != "" {
			return []string{v}
		}
	case srcStageVar:
		if v, ok := env.stageVar(s.name); ok {
			return []string{v}
		}
	}
	return nil
}
