package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2conv"
	"gopkg.in/yaml.v3"
)

// Export writes the API back as a YAML document in format (FormatOAS3 or
// FormatSwagger2; "" keeps the document's own). Every operation carries
// its resolved pipeline and integration as its own x-wasmgate-pipeline and
// x-wasmgate-integration (x-amazon-apigateway-integration is translated,
// root and path item defaults are folded into the operations), and the
// root carries x-wasmgate-stages; each custom authorizer's security
// scheme carries its x-wasmgate-plugin. Parse(Export(a)) yields the same
// operations, apart from the Loc fields, which point into the new
// document.
//
// In the same format the rest of the document, comments included, is kept
// as written; a conversion goes through kin-openapi's openapi2conv. An
// ANY operation stays an x-amazon-apigateway-any-method member of its
// path item, copied as written.
func Export(a *API, format string) ([]byte, error) {
	if format == "" {
		format = a.Format
	}
	if format != FormatOAS3 && format != FormatSwagger2 {
		return nil, fmt.Errorf("export: unknown format %q; use %q or %q", format, FormatOAS3, FormatSwagger2)
	}
	source, err := sourceTree(a)
	if err != nil {
		return nil, err
	}
	root := source
	if format != a.Format {
		if root, err = convert(a, source, format); err != nil {
			return nil, err
		}
	}

	mappingDelete(root, func(k string) bool { return k == extPipeline || k == extIntegration || k == extStages })
	if len(a.Stages) > 0 {
		mappingSet(root, extStages, stagesNode(a.Stages))
	}
	paths := mappingGet(root, "paths")
	if paths == nil || paths.Kind != yaml.MappingNode {
		paths = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mappingSet(root, "paths", paths)
	}
	keep := map[string]bool{}
	for _, op := range a.Operations {
		keep[op.Path+" "+opKey(op.Method)] = true
	}
	// Drop the defaults and the operations a no longer has.
	for i := 0; i+1 < len(paths.Content); i += 2 {
		path, item := paths.Content[i].Value, deref(paths.Content[i+1])
		mappingDelete(item, func(k string) bool {
			return k == extPipeline || k == extIntegration ||
				(slices.Contains(methods, k) || k == extAnyMethod) && !keep[path+" "+k]
		})
	}
	for _, op := range a.Operations {
		item := deref(mappingGet(paths, op.Path))
		if item == nil || item.Kind != yaml.MappingNode {
			item = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			mappingSet(paths, op.Path, item)
		}
		key := opKey(op.Method)
		on := deref(mappingGet(item, key))
		if op.Method == MethodAny && format != a.Format {
			// A conversion leaves extensions alone: copy it as written.
			on = deref(mappingGet(deref(mappingGet(mappingGet(source, "paths"), op.Path)), key))
		}
		if on == nil || on.Kind != yaml.MappingNode {
			on = newOperationNode(op, format)
		}
		on = copyNode(on)
		mappingSet(item, key, on)
		mappingDelete(on, func(k string) bool { return k == extPipeline || k == extIntegration || k == extAWS })
		if len(op.Pipeline) > 0 {
			mappingSet(on, extPipeline, pipelineNode(op.Pipeline))
		}
		in, err := integrationNode(op.Integration)
		if err != nil {
			return nil, fmt.Errorf("export %s %s: %w", op.Method, op.Path, err)
		}
		mappingSet(on, extIntegration, in)
	}

	exportAuthorizers(root, a, format)
	blockStyle(root)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return b.Bytes(), nil
}

// blockStyle writes a document that is flow style at the root (JSON) in
// plain block style: the YAML encoder would otherwise keep the flow style
// and put the whole export on one line, every key quoted.
func blockStyle(root *yaml.Node) {
	if root.Style&yaml.FlowStyle == 0 {
		return
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.MappingNode, yaml.SequenceNode:
			n.Style &^= yaml.FlowStyle
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.ScalarNode:
			n.Style = 0 // the encoder quotes what needs it
		}
	}
	walk(root)
}

func opKey(method string) string {
	if method == MethodAny {
		return extAnyMethod
	}
	return strings.ToLower(method)
}

// sourceTree is the document as a node tree: a's raw document, or a
// skeleton when a was built in code.
func sourceTree(a *API) (*yaml.Node, error) {
	if len(a.Raw) == 0 {
		root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if a.Format == FormatSwagger2 {
			mappingSet(root, "swagger", strNode("2.0"))
		} else {
			mappingSet(root, "openapi", strNode("3.0.3"))
		}
		info := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mappingSet(info, "title", strNode(a.Name))
		mappingSet(info, "version", strNode(a.Version))
		mappingSet(root, "info", info)
		if a.BasePath != "" {
			if a.Format == FormatSwagger2 {
				mappingSet(root, "basePath", strNode(a.BasePath))
			} else {
				server := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				mappingSet(server, "url", strNode(a.BasePath))
				mappingSet(root, "servers", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{server}})
			}
		}
		return root, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(bytes.TrimPrefix(a.Raw, []byte("\xef\xbb\xbf")), &doc); err != nil || len(doc.Content) == 0 {
		return nil, fmt.Errorf("export: the API's raw document does not parse; export the result of Parse")
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("export: the API's raw document is not an object")
	}
	return root, nil
}

// convert converts the document with kin-openapi.
func convert(a *API, source *yaml.Node, format string) (*yaml.Node, error) {
	var probs problems
	c := converter{probs: &probs}
	doc, _ := c.value(source, "", 0).(map[string]any)
	if len(probs.list) > 0 || doc == nil {
		return nil, fmt.Errorf("export: the API's raw document does not parse; export the result of Parse")
	}
	d3, renamed, err := kinDocument(doc, a.Format)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var out any = d3
	if format == FormatSwagger2 {
		d2, err := openapi2conv.FromV3(d3)
		if err != nil {
			return nil, fmt.Errorf("export: convert to Swagger 2.0: %w", err)
		}
		out = d2
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	root, err := jsonNode(data)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if paths := mappingGet(root, "paths"); paths != nil {
		for i := 0; i < len(paths.Content); i += 2 {
			if orig, ok := renamed[paths.Content[i].Value]; ok {
				paths.Content[i].Value = orig
			}
		}
	}
	if format == FormatSwagger2 {
		// license.identifier is OpenAPI 3.1 only.
		mappingDelete(mappingGet(mappingGet(root, "info"), "license"), func(k string) bool { return k == "identifier" })
		// openapi2conv takes the first server URL's path as written, server
		// variables and all.
		mappingDelete(root, func(k string) bool { return k == "basePath" || k == "host" && a.BasePath == "" })
		if a.BasePath != "" {
			mappingSet(root, "basePath", strNode(a.BasePath))
		}
	}
	return root, nil
}

// newOperationNode is a minimal operation for one the document lacks.
func newOperationNode(op *Operation, format string) *yaml.Node {
	on := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if op.OperationID != "" {
		mappingSet(on, "operationId", strNode(op.OperationID))
	}
	if len(op.Parameters) > 0 {
		list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, p := range op.Parameters {
			pn := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			mappingSet(pn, "name", strNode(p.Name))
			mappingSet(pn, "in", strNode(p.In))
			if p.Required {
				mappingSet(pn, "required", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
			}
			if format == FormatSwagger2 {
				mappingSet(pn, "type", strNode("string"))
			} else {
				schema := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				mappingSet(schema, "type", strNode("string"))
				mappingSet(pn, "schema", schema)
			}
			list.Content = append(list.Content, pn)
		}
		mappingSet(on, "parameters", list)
	}
	resp := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	mappingSet(resp, "description", strNode("Response"))
	responses := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	mappingSet(responses, "default", resp)
	mappingSet(on, "responses", responses)
	return on
}

// copyNode copies a mapping node's member list so that editing it does
// not edit an anchor shared through an alias.
func copyNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Anchor = ""
	c.Content = slices.Clone(n.Content)
	return &c
}

func stagesNode(stages []Stage) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, st := range stages {
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mappingSet(n, "name", strNode(st.Name))
		if len(st.Hosts) > 0 {
			hosts := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}
			for _, h := range st.Hosts {
				hosts.Content = append(hosts.Content, strNode(h))
			}
			mappingSet(n, "hosts", hosts)
		}
		if len(st.Variables) > 0 {
			mappingSet(n, "variables", stringMapNode(st.Variables))
		}
		list.Content = append(list.Content, n)
	}
	return list
}

func stringMapNode(m map[string]string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range sortedKeys(m) {
		mappingSet(n, k, strNode(m[k]))
	}
	return n
}

func intNode(i int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(i, 10)}
}

func pipelineNode(refs []PluginRef) *yaml.Node {
	list := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, r := range refs {
		list.Content = append(list.Content, pluginNode(r, "on_error"))
	}
	return list
}

// pluginNode writes a plugin reference; onErrorKey is "" where on_error
// has no place (a function).
func pluginNode(r PluginRef, onErrorKey string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	mappingSet(n, "plugin", strNode(r.Ref))
	if len(r.Config) > 0 && string(r.Config) != "{}" {
		if c, err := jsonNode(r.Config); err == nil {
			mappingSet(n, "config", c)
		}
	}
	if onErrorKey != "" && r.OnError != "" && r.OnError != FailClosed {
		mappingSet(n, onErrorKey, strNode(r.OnError))
	}
	return n
}

func integrationNode(in Integration) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	mappingSet(n, "type", strNode(in.Type))
	if in.URI != "" {
		mappingSet(n, "uri", strNode(in.URI))
	}
	if in.Method != "" {
		mappingSet(n, "method", strNode(in.Method))
	}
	if in.Timeout > 0 && in.Timeout != DefaultTimeout {
		mappingSet(n, "timeout_ms", intNode(in.Timeout.Milliseconds()))
	}
	if m := in.Mock; m != nil {
		mn := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mappingSet(mn, "status", intNode(int64(m.StatusCode)))
		if len(m.Headers) > 0 {
			mappingSet(mn, "headers", stringMapNode(m.Headers))
		}
		if m.Body != "" {
			mappingSet(mn, "body", strNode(m.Body))
		}
		mappingSet(n, "mock", mn)
	}
	if f := in.Function; f != nil {
		fn := pluginNode(*f, "")
		if in.PayloadVersion != "" {
			mappingSet(fn, "payload_version", strNode(in.PayloadVersion))
		}
		mappingSet(n, "function", fn)
	}
	if s := in.Service; s != nil {
		sn := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		mappingSet(sn, "table", strNode(s.Table))
		if s.Action != "" {
			mappingSet(sn, "action", strNode(s.Action))
		}
		if s.Key != "" {
			mappingSet(sn, "key", strNode(s.Key))
		}
		mappingSet(n, "service", sn)
	}
	if len(in.Transform) > 0 {
		t, err := jsonNode(in.Transform)
		if err != nil {
			return nil, fmt.Errorf("transform: %w", err)
		}
		mappingSet(n, "transform", t)
	}
	return n, nil
}
