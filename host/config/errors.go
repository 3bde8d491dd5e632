package config

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in an API document (or a settings file): where it
// is and why it is wrong.
type Error struct {
	// File is the document name given to Load or Parse.
	File string
	// Line and Column are 1-based; 0 when unknown. They point at the key
	// of the member named by Path (or the element, for an array item), or
	// at its nearest ancestor that exists in the document.
	Line, Column int
	// Path is the JSON pointer (RFC 6901) of the offending member, ""
	// for the whole document.
	Path string
	// Reason says what is wrong and, where it helps, what to write
	// instead. It is a single line.
	Reason string
}

// Error formats the error as "file:line:col: path: reason", leaving out
// the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors are all the problems found in one document, sorted by position.
// Parse returns them as its error; use errors.As to get them.
type Errors []*Error

// Error lists the errors one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap gives errors.Is and errors.As access to each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sortErrors orders errors by position, then path and reason, and drops
// exact duplicates.
func sortErrors(es Errors) Errors {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Path, b.Path), cmp.Compare(a.Reason, b.Reason))
	})
	return slices.CompactFunc(es, func(a, b *Error) bool { return *a == *b })
}

// problems collects errors by JSON pointer while a document is decoded;
// positions are filled in at the end from the document's node tree.
type problems struct {
	list []problem
}

type problem struct {
	ptr       string
	reason    string
	line, col int // when known without the pointer (duplicate keys)
}

func (p *problems) add(ptr, format string, args ...any) {
	p.list = append(p.list, problem{ptr: ptr, reason: oneLine(fmt.Sprintf(format, args...))})
}

func (p *problems) addAt(line, col int, ptr, format string, args ...any) {
	p.list = append(p.list, problem{ptr: ptr, reason: oneLine(fmt.Sprintf(format, args...)), line: line, col: col})
}

// oneLine keeps the first line of a message: kin-openapi appends schema
// dumps to some of its errors.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimRight(strings.TrimSpace(s), ":")
}
