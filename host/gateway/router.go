package gateway

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Router matches a request path and method against OpenAPI path templates:
// literal segments, "{name}" (one segment) and a trailing "{name+}"
// (greedy: one or more segments). The table is compiled once per
// deployment; matching walks a segment trie without regexps and without
// allocating when the route has no parameters.
//
// Most specific wins: at each segment a literal beats "{param}", which
// beats "{greedy+}"; the matcher backtracks when a more specific branch
// dead-ends. A path that matches a template but not its methods yields
// 405 with the allowed methods; "ANY" matches every method not given its
// own operation.
type Router struct {
	root node
}

type node struct {
	static     map[string]*node
	param      *node
	paramName  string
	greedy     *node
	greedyName string
	// methods of the operations ending at this node, by method ("ANY"
	// included).
	methods map[string]*Route
	allow   string // "GET, POST" for 405 answers
}

// Route is what a matched request carries through the gateway.
type Route struct {
	Method   string // as declared, "ANY" included
	Template string // "/pets/{id}"
	// Params are the names of the template's parameters in order.
	Params []string
	// Data is the gateway's per-operation state (pipeline, integration).
	Data any
}

// Param is one matched path parameter.
type Param struct {
	Name, Value string
}

// Add registers a route. It fails on a malformed template or a duplicate
// method and template.
func (r *Router) Add(rt *Route) error {
	segs, err := splitTemplate(rt.Template)
	if err != nil {
		return err
	}
	n := &r.root
	rt.Params = rt.Params[:0]
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
			if i != len(segs)-1 {
				return fmt.Errorf("route %s: greedy parameter %s must be the last segment", rt.Template, s)
			}
			name := s[1 : len(s)-2]
			if n.greedy == nil {
				n.greedy, n.greedyName = &node{}, name
			} else if n.greedyName != name {
				return fmt.Errorf("route %s: greedy parameter {%s+} conflicts with {%s+} at the same position", rt.Template, name, n.greedyName)
			}
			rt.Params = append(rt.Params, name)
			n = n.greedy
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if name == "" || strings.ContainsAny(name, "{}/") {
				return fmt.Errorf("route %s: bad parameter %q", rt.Template, s)
			}
			if n.param == nil {
				n.param, n.paramName = &node{}, name
			} else if n.paramName != name {
				return fmt.Errorf("route %s: parameter {%s} conflicts with {%s} at the same position", rt.Template, name, n.paramName)
			}
			rt.Params = append(rt.Params, name)
			n = n.param
		default:
			if strings.ContainsAny(s, "{}") {
				return fmt.Errorf("route %s: segment %q mixes text and a parameter; use a whole segment", rt.Template, s)
			}
			if n.static == nil {
				n.static = map[string]*node{}
			}
			c := n.static[s]
			if c == nil {
				c = &node{}
				n.static[s] = c
			}
			n = c
		}
	}
	m := strings.ToUpper(rt.Method)
	if n.methods == nil {
		n.methods = map[string]*Route{}
	}
	if _, dup := n.methods[m]; dup {
		return fmt.Errorf("route %s %s is defined twice", m, rt.Template)
	}
	n.methods[m] = rt
	names := make([]string, 0, len(n.methods))
	for k := range n.methods {
		names = append(names, k)
	}
	sort.Strings(names)
	n.allow = strings.Join(names, ", ")
	return nil
}

func splitTemplate(t string) ([]string, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, fmt.Errorf("route %q: a path template starts with /", t)
	}
	t = strings.TrimSuffix(t[1:], "/")
	if t == "" {
		return nil, nil
	}
	segs := strings.Split(t, "/")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("route %q: empty path segment", t)
		}
	}
	return segs, nil
}

// Match finds the route for method and path (the URL path without the
// stage prefix, still escaped). params is appended to and returned. When
// no route matches, route is nil and allow lists the methods of the most
// specific template the path matched (405), or is empty (404).
//
// Methods take part in the match: when the most specific template lacks
// the method, a less specific one that has it (a greedy catch-all, say)
// serves the request.
func (r *Router) Match(method, path string, params []Param) (route *Route, out []Param, allow string) {
	if len(path) > 0 && path[0] == '/' {
		path = path[1:]
	}
	if len(path) > 0 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	m := matcher{method: method}
	rt, params := m.match(&r.root, path, params)
	if rt != nil {
		return rt, params, ""
	}
	if m.pathOnly != nil {
		return nil, params, m.pathOnly.allow
	}
	return nil, params, ""
}

type matcher struct {
	method   string
	pathOnly *node // most specific node whose path matched, for 405
}

func (m *matcher) accept(n *node) *Route {
	if n.methods == nil {
		return nil
	}
	if rt := n.methods[m.method]; rt != nil {
		return rt
	}
	if m.method == "HEAD" {
		if rt := n.methods["GET"]; rt != nil {
			return rt
		}
	}
	if rt := n.methods["ANY"]; rt != nil {
		return rt
	}
	if m.pathOnly == nil {
		m.pathOnly = n
	}
	return nil
}

// match consumes path (segments without the leading slash).
func (m *matcher) match(n *node, path string, params []Param) (*Route, []Param) {
	if path == "" {
		return m.accept(n), params
	}
	seg, rest := path, ""
	if i := strings.IndexByte(path, '/'); i >= 0 {
		seg, rest = path[:i], path[i+1:]
	}
	if seg == "" {
		return nil, params
	}
	if c := n.static[seg]; c != nil {
		if rt, p := m.match(c, rest, params); rt != nil {
			return rt, p
		}
	}
	if n.param != nil {
		mark := len(params)
		if rt, p := m.match(n.param, rest, append(params, Param{n.paramName, unescape(seg)})); rt != nil {
			return rt, p
		}
		params = params[:mark]
	}
	if n.greedy != nil {
		if rt := m.accept(n.greedy); rt != nil {
			return rt, append(params, Param{n.greedyName, unescape(path)})
		}
	}
	return nil, params
}

func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
