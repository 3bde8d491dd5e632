package config

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits on what a document may expand to: YAML aliases can make a small
// file describe a huge tree ("billion laughs"). Expanding aliases may at
// most double the document's node count, plus expansionSlack nodes.
const (
	expansionSlack = 100000
	maxDepth       = 1000
)

// escapeToken escapes one JSON pointer reference token (RFC 6901).
func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// unescapeToken reverses escapeToken.
func unescapeToken(s string) string {
	if !strings.Contains(s, "~") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// ptr appends reference tokens to a JSON pointer.
func ptr(base string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

func idx(base string, i int) string { return base + "/" + strconv.Itoa(i) }

// splitPointer splits a JSON pointer into its unescaped tokens.
func splitPointer(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, t := range parts {
		parts[i] = unescapeToken(t)
	}
	return parts
}

// deref follows an alias node to its anchor.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// locate finds the position of the member named by a JSON pointer in a
// node tree: the key of a mapping member, or the element of a sequence.
// When the pointer leads nowhere it returns the position of the deepest
// ancestor that exists.
func locate(root *yaml.Node, p string) (line, col int) {
	n := deref(root)
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column
	for _, tok := range splitPointer(p) {
		n = deref(n)
		if n == nil {
			return line, col
		}
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == tok {
					line, col = k.Line, k.Column
					next = n.Content[i+1]
					break
				}
			}
			if next == nil {
				return line, col
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, col
			}
			n = n.Content[i]
			line, col = n.Line, n.Column
		default:
			return line, col
		}
	}
	return line, col
}

// converter turns a YAML node tree into plain Go values (map[string]any,
// []any, string, int64, float64, bool, nil), as encoding/json would decode
// the equivalent JSON. Problems (duplicate keys, non-string keys, runaway
// alias expansion) are recorded with their own positions.
type converter struct {
	probs    *problems
	nodes    int
	maxNodes int                 // 0 until the first call sets it
	active   map[*yaml.Node]bool // anchors being expanded
	stop     bool
}

func (c *converter) value(n *yaml.Node, p string, depth int) any {
	if c.stop {
		return nil
	}
	if c.maxNodes == 0 {
		c.maxNodes = 2*countNodes(n) + expansionSlack
		c.active = map[*yaml.Node]bool{}
	}
	c.nodes++
	if c.nodes > c.maxNodes || depth > maxDepth {
		c.stop = true
		c.probs.addAt(n.Line, n.Column, "", "the document is too large or too deeply nested once YAML aliases are expanded")
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return c.value(n.Content[0], p, depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil
		}
		if c.active[n.Alias] {
			c.stop = true
			c.probs.addAt(n.Line, n.Column, "", "the alias *%s refers to a node that contains it", n.Value)
			return nil
		}
		c.active[n.Alias] = true
		v := c.value(n.Alias, p, depth+1)
		delete(c.active, n.Alias)
		return v
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, e := range n.Content {
			out[i] = c.value(e, idx(p, i), depth+1)
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		c.active[n] = true
		c.mapping(n, p, depth, out, map[string]*yaml.Node{})
		delete(c.active, n)
		return out
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil
}

// countNodes counts the nodes of a tree without expanding aliases.
func countNodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += countNodes(c)
	}
	return count
}

// mapping fills out with the members of n, merge keys ("<<") included;
// explicit members win over merged ones.
func (c *converter) mapping(n *yaml.Node, p string, depth int, out map[string]any, seen map[string]*yaml.Node) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			c.probs.addAt(k.Line, k.Column, p, "a mapping key must be a string")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.probs.addAt(k.Line, k.Column, ptr(p, k.Value), "duplicate key %q (first defined at line %d)", k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		out[k.Value] = c.value(v, ptr(p, k.Value), depth+1)
	}
	for _, m := range merges {
		m = deref(m)
		var list []*yaml.Node
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			list = []*yaml.Node{m}
		case m.Kind == yaml.SequenceNode:
			list = m.Content
		}
		for _, e := range list {
			e = deref(e)
			if e == nil || e.Kind != yaml.MappingNode {
				c.probs.addAt(m.Line, m.Column, p, "a merge key (<<) needs a mapping or a list of mappings")
				continue
			}
			if c.stop {
				return
			}
			c.nodes++
			if c.active[e] || depth > maxDepth || c.nodes > c.maxNodes {
				c.stop = true
				c.probs.addAt(m.Line, m.Column, "", "the merge key (<<) at this line merges a mapping into itself or expands too far")
				return
			}
			merged := make(map[string]any)
			c.active[e] = true
			c.mapping(e, p, depth+1, merged, map[string]*yaml.Node{})
			delete(c.active, e)
			for k, v := range merged {
				if _, ok := out[k]; !ok {
					out[k] = v
				}
			}
		}
	}
}

// scalar resolves a scalar node the way YAML 1.2's core schema would,
// keeping what JSON cannot represent (timestamps, infinities, binary) as
// the text written.
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return i
		}
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f)
			}
			return f
		}
	}
	return n.Value
}

// encodeJSON encodes plain values as compact JSON, keys sorted, without
// HTML escaping.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Plain values from the converter always encode.
		panic("config: encode JSON: " + err.Error())
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

// jsonNode turns JSON into a YAML node tree, keeping member order and
// number literals.
func jsonNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var build func() (*yaml.Node, error)
	build = func() (*yaml.Node, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' {
				n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					v, err := build()
					if err != nil {
						return nil, err
					}
					n.Content = append(n.Content, strNode(kt.(string)), v)
				}
				_, err := dec.Token()
				return n, err
			}
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := build()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			_, err := dec.Token()
			return n, err
		case json.Number:
			tag := "!!int"
			if strings.ContainsAny(t.String(), ".eE") {
				tag = "!!float"
			}
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
		case string:
			return strNode(t), nil
		case bool:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(t)}, nil
		default:
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
		}
	}
	return build()
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// mappingGet returns the value of key in a mapping node, or nil.
func mappingGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mappingSet sets key in a mapping node, replacing its value in place or
// appending it.
func mappingSet(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
	n.Content = append(n.Content, strNode(key), v)
}

// mappingDelete removes the keys for which drop is true.
func mappingDelete(n *yaml.Node, drop func(key string) bool) {
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	out := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !drop(n.Content[i].Value) {
			out = append(out, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = out
}
