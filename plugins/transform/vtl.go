package main

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf16"
)

// A mapping template in the supported subset of API Gateway's Velocity
// Template Language (see README.md for the exact list):
//
//	$input.json('$.a.b')   $input.path('$.a')   $input.params('name')   $input.body
//	$context.NAME          $stageVariables.NAME
//	$util.escapeJavaScript(x)  $util.urlEncode(x)  $util.urlDecode(x)
//	$util.base64Encode(x)      $util.base64Decode(x)
//
// with the quiet ($!ref) and formal (${ref}) notations, ## and #* *#
// comments, #[[ unparsed ]]# blocks and \$ for a literal dollar. Anything
// else that VTL would interpret (directives such as #set, #if, #foreach;
// other references; method calls on values) is rejected when the
// configuration is loaded.
type vtlTemplate struct {
	nodes []vtlNode
	// usesJSON: the template parses the body ($input.json, $input.path).
	usesJSON bool
	// usesParams: the template reads request parameters ($input.params).
	usesParams bool
}

type vtlNode struct {
	text string   // literal text when expr is nil
	expr *vtlExpr // a reference
}

type exprKind uint8

const (
	exLiteral     exprKind = iota // a quoted string argument
	exInputJSON                   // $input.json(path)
	exInputPath                   // $input.path(path)
	exInputBody                   // $input.body
	exInputParams                 // $input.params(name)
	exContext                     // $context.name
	exStageVar                    // $stageVariables.name
	exUtil                        // $util.fn(arg)
)

type vtlExpr struct {
	kind exprKind
	name string // literal value, parameter, context or stage variable name, util function
	path jsonPath
	arg  *vtlExpr // util argument
}

// vtlEnv is what a template reads while rendering.
type vtlEnv interface {
	// bodyText is $input.body.
	bodyText() string
	// bodyJSON is the parsed body; an error when it is not JSON.
	bodyJSON() (any, error)
	// param is $input.params(name): a path, query string or header
	// parameter, in that order.
	param(name string) string
	// contextVar is $context.name.
	contextVar(name string) string
	// stageVariable is $stageVariables.name.
	stageVariable(name string) string
}

// errBadJSON wraps a body that $input.json or $input.path could not parse.
type errBadJSON struct{ err error }

func (e *errBadJSON) Error() string { return "the body is not JSON: " + e.err.Error() }

var directives = map[string]bool{
	"set": true, "if": true, "elseif": true, "else": true, "end": true, "foreach": true,
	"break": true, "stop": true, "macro": true, "define": true, "evaluate": true,
	"parse": true, "include": true,
}

var utilFuncs = map[string]bool{
	"escapeJavaScript": true, "urlEncode": true, "urlDecode": true,
	"base64Encode": true, "base64Decode": true,
}

// contextVars are the $context variables (and context.NAME sources).
var contextVars = map[string]bool{
	"requestId": true, "extendedRequestId": true, "httpMethod": true, "resourcePath": true,
	"path": true, "stage": true, "deploymentId": true, "domainName": true,
	"domainPrefix": true, "protocol": true, "requestTime": true, "requestTimeEpoch": true,
	"identity.sourceIp": true, "identity.userAgent": true,
}

const supportedRefs = "$input.json('$...'), $input.path('$...'), $input.params('name'), $input.body, $context.NAME, $stageVariables.NAME, $util.escapeJavaScript/urlEncode/urlDecode/base64Encode/base64Decode(...)"

// vtlParser parses one template.
type vtlParser struct {
	src string
	pos int
	t   *vtlTemplate
	lit strings.Builder
}

// parseVTL compiles a template, or explains what it uses that is not
// supported, with the line and column.
func parseVTL(src string) (*vtlTemplate, error) {
	p := &vtlParser{src: src, t: &vtlTemplate{}}
	if err := p.parse(); err != nil {
		line, col := p.lineCol()
		return nil, fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return p.t, nil
}

func (p *vtlParser) lineCol() (int, int) {
	before := p.src[:min(p.pos, len(p.src))]
	line := strings.Count(before, "\n") + 1
	col := len(before) - strings.LastIndexByte(before, '\n')
	return line, col
}

func (p *vtlParser) flush() {
	if p.lit.Len() > 0 {
		p.t.nodes = append(p.t.nodes, vtlNode{text: p.lit.String()})
		p.lit.Reset()
	}
}

func (p *vtlParser) rest() string { return p.src[p.pos:] }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isIdentChar(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '-' }

// startsRef reports whether s (after a "$") begins a reference.
func startsRef(s string) bool {
	s = strings.TrimPrefix(s, "!")
	s = strings.TrimPrefix(s, "{")
	return s != "" && isLetter(s[0])
}

func (p *vtlParser) parse() error {
	for p.pos < len(p.src) {
		r := p.rest()
		switch {
		case strings.HasPrefix(r, `\$`) && startsRef(r[2:]):
			p.lit.WriteByte('$')
			p.pos += 2
		case strings.HasPrefix(r, `\#`):
			p.lit.WriteByte('#')
			p.pos += 2
		case strings.HasPrefix(r, "##"):
			end := strings.IndexByte(r, '\n')
			if end < 0 {
				p.pos = len(p.src)
			} else {
				p.pos += end + 1
			}
		case strings.HasPrefix(r, "#*"):
			end := strings.Index(r[2:], "*#")
			if end < 0 {
				return fmt.Errorf("unterminated #* comment")
			}
			p.pos += 2 + end + 2
		case strings.HasPrefix(r, "#[["):
			end := strings.Index(r[3:], "]]#")
			if end < 0 {
				return fmt.Errorf("unterminated #[[ block")
			}
			p.lit.WriteString(r[3 : 3+end])
			p.pos += 3 + end + 3
		case r[0] == '#':
			name := strings.TrimPrefix(r[1:], "{")
			n := 0
			for n < len(name) && isLetter(name[n]) {
				n++
			}
			if directives[name[:n]] {
				return fmt.Errorf("#%s is not supported: this gateway implements references only, not VTL directives", name[:n])
			}
			p.lit.WriteByte('#')
			p.pos++
		case r[0] == '$' && startsRef(r[1:]):
			p.flush()
			start := p.pos
			e, err := p.reference()
			if err != nil {
				p.pos = start // report where the reference starts
				return err
			}
			p.t.nodes = append(p.t.nodes, vtlNode{expr: e})
		default:
			p.lit.WriteByte(r[0])
			p.pos++
		}
	}
	p.flush()
	return nil
}

func (p *vtlParser) ident() string {
	start := p.pos
	for p.pos < len(p.src) && isIdentChar(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *vtlParser) accept(s string) bool {
	if strings.HasPrefix(p.rest(), s) {
		p.pos += len(s)
		return true
	}
	return false
}

// reference parses $ref, $!ref, ${ref} or $!{ref} at p.pos.
func (p *vtlParser) reference() (*vtlExpr, error) {
	start := p.pos
	p.pos++ // $
	p.accept("!")
	formal := p.accept("{")
	e, err := p.refBody()
	if err != nil {
		return nil, err
	}
	if formal {
		if !p.accept("}") {
			return nil, fmt.Errorf("%s: missing } of the formal reference", p.src[start:p.pos])
		}
		return e, nil
	}
	r := p.rest()
	if len(r) >= 2 && r[0] == '.' && isLetter(r[1]) || strings.HasPrefix(r, "(") || strings.HasPrefix(r, "[") {
		return nil, fmt.Errorf("%s%s: method calls, properties and indexing on a value are not supported", p.src[start:p.pos], truncate(r, 12))
	}
	return e, nil
}

// refBody parses the reference after "$", "$!" or "${".
func (p *vtlParser) refBody() (*vtlExpr, error) {
	root := p.ident()
	switch root {
	case "input":
		if !p.accept(".") {
			return nil, fmt.Errorf("$input alone is not supported; use %s", supportedRefs)
		}
		switch m := p.ident(); m {
		case "body":
			return &vtlExpr{kind: exInputBody}, nil
		case "json", "path":
			arg, err := p.stringArg("$input." + m)
			if err != nil {
				return nil, err
			}
			jp, err := parseJSONPath(arg)
			if err != nil {
				return nil, fmt.Errorf("$input.%s: %w", m, err)
			}
			p.t.usesJSON = true
			if m == "json" {
				return &vtlExpr{kind: exInputJSON, path: jp}, nil
			}
			return &vtlExpr{kind: exInputPath, path: jp}, nil
		case "params":
			arg, err := p.stringArg("$input.params")
			if err != nil {
				return nil, err
			}
			if arg == "" {
				return nil, fmt.Errorf("$input.params: the parameter name is empty")
			}
			p.t.usesParams = true
			return &vtlExpr{kind: exInputParams, name: arg}, nil
		default:
			return nil, fmt.Errorf("$input.%s is not supported; use %s", m, supportedRefs)
		}
	case "context":
		if !p.accept(".") {
			return nil, fmt.Errorf("$context alone is not supported; use $context.NAME")
		}
		name := p.ident()
		for len(p.rest()) >= 2 && p.rest()[0] == '.' && isLetter(p.rest()[1]) {
			p.pos++
			name += "." + p.ident()
		}
		if !isContextVar(name) {
			return nil, fmt.Errorf("$context.%s is not supported; use one of %s", name, contextList())
		}
		return &vtlExpr{kind: exContext, name: name}, nil
	case "stageVariables":
		if !p.accept(".") {
			return nil, fmt.Errorf("$stageVariables alone is not supported; use $stageVariables.NAME")
		}
		name := p.ident()
		if name == "" {
			return nil, fmt.Errorf("$stageVariables.: missing the variable name")
		}
		return &vtlExpr{kind: exStageVar, name: name}, nil
	case "util":
		if !p.accept(".") {
			return nil, fmt.Errorf("$util alone is not supported")
		}
		fn := p.ident()
		if !utilFuncs[fn] {
			return nil, fmt.Errorf("$util.%s is not supported; use $util.escapeJavaScript, urlEncode, urlDecode, base64Encode or base64Decode", fn)
		}
		arg, err := p.exprArg("$util." + fn)
		if err != nil {
			return nil, err
		}
		return &vtlExpr{kind: exUtil, name: fn, arg: arg}, nil
	}
	return nil, fmt.Errorf("$%s is not supported; use %s", root, supportedRefs)
}

func (p *vtlParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

// quoted reads a 'single' or "double" quoted string at p.pos.
func (p *vtlParser) quoted(what string) (string, bool, error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '\'' && p.src[p.pos] != '"' {
		return "", false, nil
	}
	q := p.src[p.pos]
	end := strings.IndexByte(p.src[p.pos+1:], q)
	if end < 0 {
		return "", true, fmt.Errorf("%s: unterminated string", what)
	}
	s := p.src[p.pos+1 : p.pos+1+end]
	if q == '"' && interpolates(s) {
		return "", true, fmt.Errorf("%s: references and directives inside double-quoted strings are not supported; use single quotes", what)
	}
	p.pos += end + 2
	return s, true, nil
}

// interpolates reports whether VTL would evaluate something inside a
// double-quoted string: a reference or a directive.
func interpolates(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '$':
			if startsRef(s[i+1:]) {
				return true
			}
		case '#':
			name := strings.TrimPrefix(s[i+1:], "{")
			n := 0
			for n < len(name) && isLetter(name[n]) {
				n++
			}
			if directives[name[:n]] {
				return true
			}
		}
	}
	return false
}

// stringArg parses "('literal')".
func (p *vtlParser) stringArg(what string) (string, error) {
	if !p.accept("(") {
		return "", fmt.Errorf("%s needs an argument: %s('...')", what, what)
	}
	p.skipSpace()
	s, ok, err := p.quoted(what)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%s: the argument must be a quoted string", what)
	}
	p.skipSpace()
	if !p.accept(")") {
		return "", fmt.Errorf("%s: expected ) after the argument (one argument only)", what)
	}
	return s, nil
}

// exprArg parses "(arg)" where arg is a quoted string or a reference.
func (p *vtlParser) exprArg(what string) (*vtlExpr, error) {
	if !p.accept("(") {
		return nil, fmt.Errorf("%s needs an argument", what)
	}
	p.skipSpace()
	var arg *vtlExpr
	if s, ok, err := p.quoted(what); err != nil {
		return nil, err
	} else if ok {
		arg = &vtlExpr{kind: exLiteral, name: s}
	} else if strings.HasPrefix(p.rest(), "$") && startsRef(p.rest()[1:]) {
		p.pos++
		p.accept("!")
		formal := p.accept("{")
		e, err := p.refBody()
		if err != nil {
			return nil, err
		}
		if formal && !p.accept("}") {
			return nil, fmt.Errorf("%s: missing } of the formal reference", what)
		}
		arg = e
	} else {
		return nil, fmt.Errorf("%s: the argument must be a quoted string or a reference", what)
	}
	p.skipSpace()
	if !p.accept(")") {
		return nil, fmt.Errorf("%s: expected ) after the argument (one argument only)", what)
	}
	return arg, nil
}

func contextList() string {
	return "requestId, extendedRequestId, httpMethod, resourcePath, path, stage, deploymentId, domainName, domainPrefix, protocol, requestTime, requestTimeEpoch, identity.sourceIp, identity.userAgent, authorizer.principalId, authorizer.KEY"
}

// isContextVar reports whether name is a $context variable: one of
// contextVars, or authorizer.principalId and authorizer.KEY (a custom
// authorizer's answer, read from the wasmgate.authorizer properties).
func isContextVar(name string) bool {
	if key, ok := strings.CutPrefix(name, "authorizer."); ok {
		return key != ""
	}
	return contextVars[name]
}

// render evaluates the template.
func (t *vtlTemplate) render(env vtlEnv) (string, error) {
	var b strings.Builder
	for _, n := range t.nodes {
		if n.expr == nil {
			b.WriteString(n.text)
			continue
		}
		s, err := n.expr.eval(env)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (e *vtlExpr) eval(env vtlEnv) (string, error) {
	switch e.kind {
	case exLiteral:
		return e.name, nil
	case exInputBody:
		return env.bodyText(), nil
	case exInputJSON, exInputPath:
		root, err := env.bodyJSON()
		if err != nil {
			return "", &errBadJSON{err}
		}
		v, ok := e.path.eval(root)
		if e.kind == exInputJSON {
			if !ok {
				return "null", nil
			}
			return jsonText(v), nil
		}
		if !ok {
			return "", nil
		}
		return valueText(v), nil
	case exInputParams:
		return env.param(e.name), nil
	case exContext:
		return env.contextVar(e.name), nil
	case exStageVar:
		return env.stageVariable(e.name), nil
	case exUtil:
		s, err := e.arg.eval(env)
		if err != nil {
			return "", err
		}
		switch e.name {
		case "escapeJavaScript":
			return escapeJavaScript(s), nil
		case "urlEncode":
			return javaURLEncode(s), nil
		case "urlDecode":
			if d, err := url.QueryUnescape(s); err == nil {
				return d, nil
			}
			return s, nil
		case "base64Encode":
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		case "base64Decode":
			if d, err := base64.StdEncoding.DecodeString(s); err == nil {
				return string(d), nil
			}
			return "", nil
		}
	}
	return "", nil
}

// escapeJavaScript escapes like API Gateway's $util.escapeJavaScript (Apache
// Commons Lang StringEscapeUtils.escapeJavaScript): ' " \ and / get a
// backslash, \b \f \n \r \t their escapes, other control characters and
// every non-ASCII character \uXXXX (upper-case hex, UTF-16 units).
func escapeJavaScript(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\'', '"', '\\', '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			switch {
			case r < 0x20 || r > 0x7e && r < 0x10000:
				writeU(&b, r)
			case r >= 0x10000:
				r1, r2 := utf16.EncodeRune(r)
				writeU(&b, r1)
				writeU(&b, r2)
			default:
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

func writeU(b *strings.Builder, r rune) {
	h := strings.ToUpper(strconv.FormatInt(int64(r), 16))
	b.WriteString(`\u`)
	b.WriteString(strings.Repeat("0", 4-len(h)))
	b.WriteString(h)
}

// javaURLEncode encodes like java.net.URLEncoder (UTF-8), which
// $util.urlEncode uses: letters, digits and .-*_ stay, space is +, every
// other byte %XX.
func javaURLEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLetter(c) || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '*' || c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
