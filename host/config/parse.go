package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"
)

// methods are the OpenAPI operation keys of a path item, in the order
// they are read.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Load reads an API document from a file and parses it; see Parse. The
// path, as given, names the document in errors. External $refs are not
// followed: a deployment is one self-contained document.
func Load(path string) (*API, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read API document: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an API document (Swagger 2.0 or OpenAPI 3.x, YAML or
// JSON), validates it with kin-openapi and resolves each operation's
// pipeline and integration from the x-wasmgate-* and
// x-amazon-apigateway-* extensions. name identifies the document in
// errors.
//
// On failure the error is Errors: every problem found, each with its line,
// column, JSON pointer and reason.
func Parse(name string, data []byte) (*API, error) {
	p := &parser{name: name}
	api := p.parse(data)
	if len(p.probs.list) > 0 {
		return nil, p.errors()
	}
	return api, nil
}

type parser struct {
	name  string
	root  *yaml.Node     // the document's root mapping
	doc   map[string]any // the document as plain values
	probs problems
	auth  authState // custom authorizers (authorizer.go)

	kin     *openapi3.T       // the document as kin-openapi loaded it
	renamed map[string]string // kin-openapi path key → the document's
}

// errors places the recorded problems in the document.
func (p *parser) errors() Errors {
	es := make(Errors, 0, len(p.probs.list))
	for _, pr := range p.probs.list {
		e := &Error{File: p.name, Path: pr.ptr, Reason: pr.reason, Line: pr.line, Column: pr.col}
		if e.Line == 0 && p.root != nil {
			e.Line, e.Column = locate(p.root, pr.ptr)
		}
		es = append(es, e)
	}
	return sortErrors(es)
}

func (p *parser) parse(data []byte) *API {
	sum := sha256.Sum256(data)
	api := &API{
		Source:     p.name,
		Raw:        data,
		Digest:     "sha256:" + hex.EncodeToString(sum[:]),
		Stages:     []Stage{},
		Operations: []*Operation{},
	}
	if !p.syntax(data) {
		return nil
	}
	api.Format = p.format()
	if api.Format == "" {
		return nil
	}
	p.validateOpenAPI(api.Format)

	if info, ok := p.doc["info"].(map[string]any); ok {
		api.Name, _ = info["title"].(string)
		api.Version, _ = info["version"].(string)
	}
	api.BasePath = p.basePath(api.Format)
	checkExtensions(&p.probs, p.doc, "", extStages, extPipeline, extIntegration, extUpstreams)
	if v, ok := p.doc[extStages]; ok {
		api.Stages = decodeStages(&p.probs, v, "/"+extStages)
	}
	upstreams, _ := p.doc[extUpstreams].(map[string]any)
	if v, ok := p.doc[extUpstreams]; ok {
		api.Upstreams = decodeUpstreams(&p.probs, v, "/"+extUpstreams)
	}
	p.readSecurity(api)
	root := p.defaults(p.doc, "")

	pv, ok := p.doc["paths"]
	paths, isMap := pv.(map[string]any)
	if ok && pv != nil && !isMap {
		p.probs.add("/paths", "paths must be an object keyed by path template, not %s", kindOf(pv))
	}
	var routes routeNode
	seen := map[string]string{}
	for _, path := range sortedKeys(paths) {
		pathAt := ptr("/paths", path)
		item, ok := paths[path].(map[string]any)
		if !ok {
			continue // kin-openapi reports it
		}
		tpl, err := parseTemplate(path)
		if err != nil {
			p.probs.add(pathAt, "%s", err)
			continue
		}
		routes.add(&p.probs, tpl, path, pathAt)
		checkExtensions(&p.probs, item, pathAt, extPipeline, extIntegration)
		def := p.defaults(item, pathAt).inherit(root)
		pathParams := p.params(item["parameters"], ptr(pathAt, "parameters"))
		for _, m := range append(slices.Clone(methods), extAnyMethod) {
			ov, ok := item[m]
			if !ok {
				continue
			}
			at := ptr(pathAt, m)
			om, ok := ov.(map[string]any)
			if !ok {
				if m == extAnyMethod {
					p.probs.add(at, "%s must be an operation object, not %s", m, kindOf(ov))
				}
				continue // kin-openapi reports the others
			}
			op := p.operation(om, m, path, at, tpl, def, pathParams)
			key := op.Method + " " + tpl.canonical
			if first, dup := seen[key]; dup {
				p.probs.add(at, "%s %s duplicates the operation at %s (paths that differ only in a trailing slash are the same route)", op.Method, path, first)
				continue
			}
			seen[key] = at
			api.Operations = append(api.Operations, op)
		}
	}
	checkUpstreamRefs(&p.probs, api.Operations, upstreams)
	slices.SortFunc(api.Operations, func(a, b *Operation) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	p.usedAuthorizers(api)
	if len(p.probs.list) == 0 {
		p.schemas(api)
	}
	return api
}

// schemas describes each operation's requests (Operation.Schema) from
// the document in OpenAPI 3 form: as written, or Swagger 2.0 converted
// by kin-openapi.
func (p *parser) schemas(api *API) {
	if api.Format != FormatSwagger2 {
		p.operationSchemas(api, p.doc, func(path string) string { return path })
		return
	}
	if p.kin == nil {
		return
	}
	data, err := json.Marshal(p.kin)
	if err != nil {
		return
	}
	var src map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&src) != nil {
		return
	}
	byPath := make(map[string]string, len(p.renamed))
	for k, orig := range p.renamed {
		byPath[orig] = k
	}
	p.operationSchemas(api, src, func(path string) string { return byPath[path] })
}

// syntax parses the raw document into p.root and p.doc.
func (p *parser) syntax(data []byte) bool {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(body) {
		p.probs.add("", "the document is not valid UTF-8 text")
		return false
	}
	// JSON is YAML, but encoding/json says more precisely what is wrong
	// with a broken JSON document. A document that starts with "{" may
	// also be YAML in flow style: it is JSON when its name says so or when
	// YAML cannot read it either.
	var jsonErr error
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var v any
		jsonErr = json.Unmarshal(body, &v)
	}
	var doc yaml.Node
	yamlErr := yaml.Unmarshal(body, &doc)
	if jsonErr != nil && (yamlErr != nil || strings.HasSuffix(strings.ToLower(p.name), ".json")) {
		var se *json.SyntaxError
		off := int64(len(body))
		if errors.As(jsonErr, &se) {
			off = se.Offset
		}
		line, col := position(body, off)
		p.probs.addAt(line, col, "", "invalid JSON: %s", jsonErr)
		return false
	}
	if yamlErr != nil {
		line, reason := yamlError(yamlErr)
		p.probs.addAt(line, 0, "", "invalid YAML: %s", reason)
		return false
	}
	if len(doc.Content) == 0 {
		p.probs.add("", "the document is empty; an API document has openapi (or swagger), info and paths")
		return false
	}
	root := deref(doc.Content[0])
	if root == nil || root.Kind != yaml.MappingNode {
		p.root = doc.Content[0]
		p.probs.add("", "the document root must be an object with openapi (or swagger), info and paths")
		return false
	}
	p.root = root
	c := converter{probs: &p.probs}
	p.doc, _ = c.value(root, "", 0).(map[string]any)
	// Unquoted versions ("version: 1.0") are numbers to YAML; keep the text
	// written, as a string.
	for _, at := range []string{"/openapi", "/swagger", "/info/version"} {
		if v, ok := lookupPointer(p.doc, at); ok {
			if _, isNum := v.(int64); isNum {
				p.setText(at)
			} else if _, isNum := v.(float64); isNum {
				p.setText(at)
			}
		}
	}
	return !c.stop
}

// setText replaces a scalar of p.doc with the text written in the
// document.
func (p *parser) setText(at string) {
	tokens := splitPointer(at)
	n := p.root
	for _, t := range tokens {
		n = deref(mappingGet(deref(n), t))
	}
	parent, ok := lookupPointer(p.doc, at[:strings.LastIndexByte(at, '/')])
	if m, isMap := parent.(map[string]any); ok && isMap && n != nil {
		m[tokens[len(tokens)-1]] = n.Value
	}
}

// position turns a byte offset into a 1-based line and column (in
// characters).
func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	if col == 0 {
		col = 1
	}
	return line, col
}

// yamlError splits a yaml.v3 error into its line and message.
func yamlError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:")), "\n")
	var line int
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if _, err := fmt.Sscanf(rest[:i], "%d", &line); err == nil {
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if slices.Contains(yamlParserProblems, msg) {
		// yaml.v3 reports parser (not scanner) errors with a 0-based line:
		// the line where the unfinished construct starts.
		line++
		msg += yamlHints[msg]
	}
	return line, msg
}

// yamlHints say where to look: yaml.v3 reports where the construct
// starts, not where it goes wrong.
var yamlHints = map[string]string{
	"did not find expected ',' or ']'":    " to close the [ opened on this line",
	"did not find expected ',' or '}'":    " to close the { opened on this line",
	"did not find expected '-' indicator": " in the list that starts on this line; check the indentation below it",
	"did not find expected key":           " in the mapping that starts on this line; check the indentation below it",
}

// yamlParserProblems are the messages of yaml.v3's parser errors.
var yamlParserProblems = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// format checks the openapi or swagger member.
func (p *parser) format() string {
	ov, hasOA := p.doc["openapi"]
	sv, hasSW := p.doc["swagger"]
	switch {
	case hasOA && hasSW:
		p.probs.add("/swagger", "a document has openapi (3.x) or swagger (\"2.0\"), not both")
	case hasOA:
		if s, ok := ov.(string); ok && strings.HasPrefix(s, "3.") {
			return FormatOAS3
		}
		p.probs.add("/openapi", "unsupported OpenAPI version %s; use 3.0.x or 3.1.x (or swagger: \"2.0\")", kindOf(ov))
	case hasSW:
		if s, ok := sv.(string); ok && s == "2.0" {
			return FormatSwagger2
		}
		p.probs.add("/swagger", "unsupported Swagger version %s; use \"2.0\" (or openapi: 3.x)", kindOf(sv))
	default:
		p.probs.add("", "not an OpenAPI document: the root has neither openapi (3.x) nor swagger (\"2.0\")")
	}
	return ""
}

// basePath finds the path the API is served under.
func (p *parser) basePath(format string) string {
	if format == FormatSwagger2 {
		bp, _ := p.doc["basePath"].(string)
		if bp != "" && !strings.HasPrefix(bp, "/") {
			p.probs.add("/basePath", "basePath must start with /, not %q", bp)
			return ""
		}
		return strings.TrimRight(bp, "/")
	}
	servers, _ := p.doc["servers"].([]any)
	if len(servers) == 0 {
		return ""
	}
	s, _ := servers[0].(map[string]any)
	raw, _ := s["url"].(string)
	vars, _ := s["variables"].(map[string]any)
	for _, name := range sortedKeys(vars) {
		v, _ := vars[name].(map[string]any)
		def, _ := v["default"].(string)
		raw = strings.ReplaceAll(raw, "{"+name+"}", def)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "" // kin-openapi reports a bad server URL
	}
	return strings.TrimRight(u.Path, "/")
}

// defaults are the pipeline and integration declared at one level (root
// or path item) for the operations below it.
type defaults struct {
	pipeline       []PluginRef // nil when not declared here
	pipelineSet    bool
	integration    *Integration // nil when not declared or invalid
	integrationSet bool
}

func (p *parser) defaults(m map[string]any, at string) defaults {
	var d defaults
	if v, ok := m[extPipeline]; ok {
		d.pipeline, d.pipelineSet = decodePipeline(&p.probs, v, ptr(at, extPipeline)), true
	}
	if v, ok := m[extIntegration]; ok {
		d.integration, d.integrationSet = decodeIntegration(&p.probs, v, ptr(at, extIntegration)), true
	}
	return d
}

// inherit fills what this level does not declare from its parent.
func (d defaults) inherit(parent defaults) defaults {
	if !d.pipelineSet {
		d.pipeline, d.pipelineSet = parent.pipeline, parent.pipelineSet
	}
	if !d.integrationSet {
		d.integration, d.integrationSet = parent.integration, parent.integrationSet
	}
	return d
}

func (p *parser) operation(om map[string]any, key, path, at string, tpl *template, def defaults, pathParams []paramDecl) *Operation {
	op := &Operation{Method: strings.ToUpper(key), Path: path, Loc: at, Pipeline: []PluginRef{}}
	if key == extAnyMethod {
		op.Method = MethodAny
	}
	op.OperationID, _ = om["operationId"].(string)
	checkExtensions(&p.probs, om, at, extPipeline, extIntegration)

	decls := mergeParams(p.params(om["parameters"], ptr(at, "parameters")), pathParams)
	op.Parameters = make([]Param, len(decls))
	for i, d := range decls {
		op.Parameters[i] = d.Param
	}
	p.checkPathParams(op, tpl, decls)

	own := p.defaults(om, at)
	def = own.inherit(def)
	if def.pipeline != nil {
		op.Pipeline = slices.Clone(def.pipeline)
	}
	op.Authorizer = p.operationAuthorizer(om, at)

	aws, hasAWS := om[extAWS]
	var in *Integration
	switch {
	case hasAWS && own.integrationSet:
		p.probs.add(ptr(at, extAWS), "an operation has x-wasmgate-integration or x-amazon-apigateway-integration, not both")
		return op
	case hasAWS:
		in = decodeAWS(&p.probs, aws, ptr(at, extAWS))
	case def.integrationSet:
		in = def.integration
	default:
		p.probs.add(at, "%s %s has no integration; add x-wasmgate-integration (or x-amazon-apigateway-integration) to the operation, or a default x-wasmgate-integration to its path item or the document root", op.Method, path)
		return op
	}
	if in == nil {
		return op // its errors are reported
	}
	op.Integration = in.clone()
	p.checkIntegrationParams(&op.Integration, op, tpl)
	return op
}

// clone copies an integration so that operations sharing a default do not
// share its pointers.
func (in *Integration) clone() Integration {
	c := *in
	if in.Mock != nil {
		m := *in.Mock
		c.Mock = &m
	}
	if in.Function != nil {
		f := *in.Function
		c.Function = &f
	}
	if in.Service != nil {
		s := *in.Service
		c.Service = &s
	}
	return c
}

// checkIntegrationParams checks that the parameters an integration uses
// exist on the operation's path.
func (p *parser) checkIntegrationParams(in *Integration, op *Operation, tpl *template) {
	check := func(at, s string) {
		names, _ := templateNames(s)
		for _, n := range names {
			if !slices.Contains(tpl.params, n) {
				have := "it has none"
				if len(tpl.params) > 0 {
					have = "it has {" + strings.Join(tpl.params, "}, {") + "}"
				}
				p.probs.add(at, "{%s} is not a path parameter of %s %s (%s)", n, op.Method, op.Path, have)
			}
		}
	}
	switch {
	case in.Type == TypeHTTPProxy || in.Type == TypeHTTP:
		check(in.Loc+"/uri", in.URI)
	case in.Service != nil:
		check(in.Loc+"/service/key", in.Service.Key)
	}
}

// paramDecl is a declared parameter and where it is declared.
type paramDecl struct {
	Param
	at string
}

// params reads a parameters list, resolving local $refs; parameters that
// are not path, query or header are left out.
func (p *parser) params(v any, at string) []paramDecl {
	list, _ := v.([]any)
	var out []paramDecl
	for i, e := range list {
		pat := idx(at, i)
		m, _ := e.(map[string]any)
		for hops := 0; m != nil && hops < 16; hops++ {
			ref, isRef := m["$ref"].(string)
			if !isRef {
				break
			}
			if !strings.HasPrefix(ref, "#/") {
				m = nil // an external reference: kin-openapi reports it
				break
			}
			target, ok := lookupPointer(p.doc, ref[1:])
			if !ok {
				p.probs.add(pat+"/$ref", "$ref %q does not resolve in this document", ref)
				m = nil
				break
			}
			m, _ = target.(map[string]any)
		}
		if m == nil {
			continue
		}
		name, _ := m["name"].(string)
		in, _ := m["in"].(string)
		req, _ := m["required"].(bool)
		if name == "" || in != "path" && in != "query" && in != "header" {
			continue
		}
		out = append(out, paramDecl{Param: Param{Name: name, In: in, Required: req || in == "path"}, at: pat})
	}
	return out
}

// mergeParams gives an operation its own parameters, then the path
// item's that it does not override (same name and location).
func mergeParams(own, inherited []paramDecl) []paramDecl {
	out := slices.Clone(own)
	for _, ip := range inherited {
		if !slices.ContainsFunc(own, func(o paramDecl) bool { return o.Name == ip.Name && o.In == ip.In }) {
			out = append(out, ip)
		}
	}
	if out == nil {
		out = []paramDecl{}
	}
	return out
}

// checkPathParams checks that the template's parameters and the declared
// path parameters are the same set. Both mistakes are errors (kin-openapi
// rejects them too).
func (p *parser) checkPathParams(op *Operation, tpl *template, decls []paramDecl) {
	declared := map[string]bool{}
	for _, d := range decls {
		if d.In != "path" {
			continue
		}
		declared[d.Name] = true
		if !slices.Contains(tpl.params, d.Name) {
			p.probs.add(d.at, "parameter %q is declared in: path but %s has no {%s}", d.Name, op.Path, d.Name)
		}
	}
	for _, n := range tpl.params {
		if !declared[n] {
			p.probs.add(op.Loc, "path parameter {%s} of %s is not declared; add {name: %s, in: path, required: true} to the parameters of the operation or its path item", n, op.Path, n)
		}
	}
}
