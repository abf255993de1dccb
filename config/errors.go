package config

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one configuration problem. Load reports every problem it
// finds as a *FieldError (joined with errors.Join); use errors.As, or walk
// the joined error's Unwrap() []error, to inspect them.
type FieldError struct {
	File string // config file; empty when the Config did not come from a file
	Line int    // 1-based line in File; 0 when unknown
	Path string // YAML path such as "routes[2].upstream"; empty for document errors
	Msg  string
}

// Error formats the problem as "file:line: yaml.path: message", leaving out
// the parts that are unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// problems collects FieldErrors; the zero value is ready to use.
type problems struct {
	list []*FieldError
}

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) addLine(line int, path, format string, args ...any) {
	p.list = append(p.list, &FieldError{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the problems joined, or nil.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	errs := make([]error, len(p.list))
	for i, fe := range p.list {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

// fieldErrors flattens an error returned by Validate into its FieldErrors.
// A non-FieldError (never produced by this package) is wrapped as one.
func fieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Msg: err.Error()}}
}

// parentPath returns the path one level up: "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// lineFor finds the line of path, or of its nearest ancestor that appears in
// the file (a missing required key is reported at its parent mapping).
func lineFor(lines map[string]int, path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := lines[p]; ok {
			return l
		}
	}
	return 0
}

// underAny reports whether path equals or lies under one of prefixes.
func underAny(path string, prefixes map[string]bool) bool {
	for p := path; p != ""; p = parentPath(p) {
		if prefixes[p] {
			return true
		}
	}
	return false
}

// sortProblems orders problems by line, then path, so output is stable.
func sortProblems(list []*FieldError) {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			return list[i].Line < list[j].Line
		}
		return list[i].Path < list[j].Path
	})
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 parse error into a FieldError with its line.
func syntaxError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: n, Msg: m[2]}
	}
	// yaml.v3 names no line for some problems (first line, unknown anchor).
	return &FieldError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}
