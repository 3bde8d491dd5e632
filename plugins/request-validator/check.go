package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// problem is one entry of a 400 answer's "errors".
type problem struct {
	In      string `json:"in,omitempty"`   // params: path, query, header or cookie
	Name    string `json:"name,omitempty"` // params: the parameter
	Path    string `json:"path"`           // JSON pointer in the body or the parameter's value ("" for the whole)
	Message string `json:"message"`
}

// request is what the parameters are read from.
type request struct {
	query   url.Values
	headers map[string][]string // lower-case names
	cookies map[string]string
	path    func(name string) (string, bool)
}

// checkParams validates the parameters, appending at most max problems.
// missing lists the required parameters that are absent.
func checkParams(op *operation, r *request, max int) (problems []problem, missing []string) {
	for _, p := range op.params {
		var values []string
		switch p.in {
		case "path":
			if v, ok := r.path(p.name); ok {
				values = []string{v}
			}
		case "query":
			values = r.query[p.name]
		case "header":
			values = r.headers[p.name]
		case "cookie":
			if v, ok := r.cookies[p.name]; ok {
				values = []string{v}
			}
		}
		if len(values) == 0 {
			if p.required {
				missing = append(missing, p.name)
			}
			continue
		}
		if p.schema == nil || len(problems) >= max {
			continue
		}
		v, err := p.coerce(values)
		if err != nil {
			problems = append(problems, problem{In: p.in, Name: p.name, Message: err.Error()})
			continue
		}
		if p.fast != nil {
			if msg := p.fast.check(v); msg != "" {
				problems = append(problems, problem{In: p.in, Name: p.name, Message: msg})
			}
			continue
		}
		for _, e := range schemaProblems(p.schema.Validate(v), max-len(problems)) {
			e.In, e.Name = p.in, p.name
			problems = append(problems, e)
		}
	}
	return problems, missing
}

// coerce turns a parameter's string values into the JSON value its
// schema describes, following the parameter's style: arrays from
// repeated query parameters (form, explode) or from one delimited value.
func (p *param) coerce(values []string) (any, error) {
	if p.json {
		var v any
		dec := json.NewDecoder(strings.NewReader(values[0]))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("is not valid JSON: %v", err)
		}
		return v, nil
	}
	if p.kind != "array" {
		return scalar(values[0], p.kind)
	}
	if !(p.explode && p.style == "form") {
		sep := ","
		switch p.style {
		case "spaceDelimited":
			sep = " "
		case "pipeDelimited":
			sep = "|"
		}
		var split []string
		for _, v := range values {
			split = append(split, strings.Split(v, sep)...)
		}
		values = split
	}
	out := make([]any, len(values))
	for i, s := range values {
		v, err := scalar(s, p.items)
		if err != nil {
			return nil, fmt.Errorf("item %d %v", i, err)
		}
		out[i] = v
	}
	return out, nil
}

// scalar converts one string to kind; other kinds stay strings (and an
// object parameter fails its schema's type check rather than being
// guessed at).
func scalar(s, kind string) (any, error) {
	switch kind {
	case "integer":
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			if ne := (*strconv.NumError)(nil); errors.As(err, &ne) && ne.Err == strconv.ErrRange {
				return nil, fmt.Errorf("%s is out of the 64-bit integer range", strconv.Quote(s))
			}
			return nil, fmt.Errorf("%s is not an integer", strconv.Quote(s))
		}
		return json.Number(s), nil
	case "number":
		if _, err := strconv.ParseFloat(s, 64); err != nil || !isJSONNumber(s) {
			return nil, fmt.Errorf("%s is not a number", strconv.Quote(s))
		}
		return json.Number(s), nil
	case "boolean":
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%s is not a boolean (true or false)", strconv.Quote(s))
	}
	return s, nil
}

// isJSONNumber rejects what ParseFloat takes but JSON does not: "Inf",
// "NaN", hex, "_" separators, a leading "+" or ".".
func isJSONNumber(s string) bool {
	return json.Valid([]byte(s)) && s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

// Errors about the body itself, before its schema.
var errBodyDepth = errors.New("too deep")

// parseBody decodes a JSON body after checking its nesting depth (a
// scan without allocation, so a hostile body cannot make the decoder
// recurse), with json.Number for numbers.
func parseBody(data []byte, maxDepth, maxValues int) (any, *problem) {
	pos, values, ok := scanJSON(data, maxDepth)
	if !ok {
		line, col := position(data, pos)
		return nil, &problem{Message: fmt.Sprintf("JSON nested deeper than %d levels at line %d, column %d", maxDepth, line, col)}
	}
	if values > maxValues {
		// Decoding costs per value (about a microsecond each in Wasm):
		// refuse what would run the plugin into its deadline.
		return nil, &problem{Message: fmt.Sprintf("JSON has more than %d values", maxValues)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, err2 := dec.Token(); err2 != io.EOF {
			off := dec.InputOffset()
			line, col := position(data, int(off))
			return nil, &problem{Message: fmt.Sprintf("malformed JSON at line %d, column %d: unexpected data after the JSON value", line, col)}
		}
		return v, nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := len(data)
	switch {
	case errors.As(err, &se):
		off = int(se.Offset) - 1 // the offending byte: Offset counts it
	case errors.As(err, &te):
		off = int(te.Offset)
	}
	line, col := position(data, off)
	msg := err.Error()
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		msg = "unexpected end of JSON input"
	}
	return nil, &problem{Message: fmt.Sprintf("malformed JSON at line %d, column %d: %s", line, col, strings.TrimPrefix(msg, "json: "))}
}

// scanJSON scans JSON text for its nesting depth and (roughly) how many
// values it holds, without allocating; on excess depth it returns the
// offset of the bracket that goes too deep.
func scanJSON(data []byte, max int) (at, values int, ok bool) {
	depth, inString := 0, false
	values = 1
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ',':
			values++
		case '{', '[':
			values++
			depth++
			if depth > max {
				return i, values, false
			}
		case '}', ']':
			depth--
		}
	}
	return 0, values, true
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = off - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

var printer = message.NewPrinter(language.English)

// schemaProblems flattens a validation error into at most max problems,
// the leaves of its tree (the precise failures), with their JSON
// pointers. A missing or unexpected property is reported at the
// property's own path.
func schemaProblems(err error, max int) []problem {
	var ve *jsonschema.ValidationError
	if err == nil || max <= 0 {
		return nil
	}
	if !errors.As(err, &ve) {
		return []problem{{Message: err.Error()}}
	}
	// Properties are checked in no fixed order: gather a few more than
	// max, then keep the first by path, so answers are repeatable.
	limit := 4 * max
	var out []problem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(out) >= limit {
			return
		}
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		at := pointer(e.InstanceLocation)
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, name := range k.Missing {
				if len(out) < limit {
					out = append(out, problem{Path: at + "/" + escapePointer(name), Message: "is required"})
				}
			}
			return
		case *kind.AdditionalProperties:
			for _, name := range k.Properties {
				if len(out) < limit {
					out = append(out, problem{Path: at + "/" + escapePointer(name), Message: "is not allowed (additional property)"})
				}
			}
			return
		}
		out = append(out, problem{Path: at, Message: describe(e.ErrorKind)})
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b problem) int { return strings.Compare(a.Path, b.Path) })
	return out[:min(len(out), max)]
}

func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// parseCookies reads a Cookie header ("a=1; b=2"); the first of a name wins.
func parseCookies(header []string) map[string]string {
	out := map[string]string{}
	for _, h := range header {
		for _, part := range strings.Split(h, ";") {
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || name == "" {
				continue
			}
			if _, seen := out[name]; !seen {
				out[name] = strings.Trim(value, `"`)
			}
		}
	}
	return out
}

// describe words the common failures the way an API client reads them;
// the others keep the library's wording.
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Minimum:
		return "must be >= " + ratString(k.Want)
	case *kind.Maximum:
		return "must be <= " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + ratString(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items, not %d", k.Want, k.Got)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items, not %d", k.Want, k.Got)
	}
	return k.LocalizedString(printer)
}

func ratString(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}
