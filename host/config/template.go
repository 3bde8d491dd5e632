package config

import (
	"fmt"
	"slices"
	"strings"
)

// template is a checked path template.
type template struct {
	// params are the parameter names in order, without the "+" of a
	// greedy parameter.
	params []string
	// segs are the segments, trailing slash removed.
	segs []string
	// canonical is the template with parameter names erased ("/pets/{}",
	// "/files/{+}"): two templates with the same canonical form are the
	// same route.
	canonical string
}

// parseTemplate checks a path template the way the gateway's router
// reads it: it starts with "/", has no empty segment, a parameter is a
// whole segment ("{id}"), and a greedy parameter ("{proxy+}") can only be
// the last segment. A trailing slash is allowed and ignored.
func parseTemplate(path string) (*template, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("a path template must start with /, as in \"/%s\"", path)
	}
	t := &template{}
	trimmed := strings.TrimSuffix(path[1:], "/")
	if trimmed != "" {
		t.segs = strings.Split(trimmed, "/")
	}
	var canon strings.Builder
	for i, s := range t.segs {
		canon.WriteByte('/')
		if s == "" {
			return nil, fmt.Errorf("path template %s has an empty segment", path)
		}
		if !strings.ContainsAny(s, "{}") {
			canon.WriteString(s)
			continue
		}
		if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
			return nil, fmt.Errorf("segment %q mixes text and a parameter; a parameter is a whole segment like {id}", s)
		}
		name := s[1 : len(s)-1]
		greedy := strings.HasSuffix(name, "+")
		name = strings.TrimSuffix(name, "+")
		if name == "" || strings.ContainsAny(name, "{}+") {
			return nil, fmt.Errorf("bad parameter segment %q; write {name} or {name+}", s)
		}
		if greedy && i != len(t.segs)-1 {
			return nil, fmt.Errorf("greedy parameter %s must be the last segment of the path", s)
		}
		if slices.Contains(t.params, name) {
			return nil, fmt.Errorf("parameter {%s} appears twice in the path", name)
		}
		t.params = append(t.params, name)
		if greedy {
			canon.WriteString("{+}")
		} else {
			canon.WriteString("{}")
		}
	}
	t.canonical = canon.String()
	if t.canonical == "" {
		t.canonical = "/"
	}
	return t, nil
}

// routeNode is a segment trie of all path templates, used to find
// parameters with different names at the same position ("/pets/{id}" and
// "/pets/{petId}/toys"), which the router cannot tell apart.
type routeNode struct {
	static               map[string]*routeNode
	param                *routeNode
	paramName, paramPath string
	greedyName           string
	greedyPath           string
}

func (n *routeNode) add(probs *problems, t *template, path, at string) {
	for i, s := range t.segs {
		if !strings.HasPrefix(s, "{") {
			if n.static == nil {
				n.static = map[string]*routeNode{}
			}
			c := n.static[s]
			if c == nil {
				c = &routeNode{}
				n.static[s] = c
			}
			n = c
			continue
		}
		name := t.params[countParams(t.segs[:i])]
		if strings.HasSuffix(s, "+}") {
			if n.greedyName == "" {
				n.greedyName, n.greedyPath = name, path
			} else if n.greedyName != name {
				probs.add(at, "parameter {%s+} is {%s+} at the same position in %s; use one name, the router cannot tell them apart", name, n.greedyName, n.greedyPath)
			}
			return
		}
		if n.param == nil {
			n.param, n.paramName, n.paramPath = &routeNode{}, name, path
		} else if n.paramName != name {
			probs.add(at, "parameter {%s} is {%s} at the same position in %s; use one name, the router cannot tell them apart", name, n.paramName, n.paramPath)
			return
		}
		n = n.param
	}
}

func countParams(segs []string) int {
	n := 0
	for _, s := range segs {
		if strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}
