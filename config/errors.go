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
	Err  error // the cause behind Msg, if any, for errors.Is and errors.As
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

// Unwrap returns the cause, so errors.Is(err, fs.ErrNotExist) sees through a
// FieldError about a missing file.
func (e *FieldError) Unwrap() error { return e.Err }

// Errorf returns a FieldError at path with the message formatted as
// fmt.Errorf does; the error a %w verb wraps becomes Err. Consumers of the
// config (tokens, users, gateway) build their problems with it, leaving File
// and Line to Config.Locate.
func Errorf(path, format string, args ...any) *FieldError {
	err := fmt.Errorf(format, args...)
	return &FieldError{Path: path, Msg: err.Error(), Err: errors.Unwrap(err)}
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

// FieldErrors flattens err into its FieldErrors, found with errors.As down
// every branch of an errors.Join: the FieldErrors the config's consumers
// return (tokens.New, users.Load, gateway.New) arrive wrapped in prefixes
// such as "gateway: tokens: ", which the FieldError's own path replaces. A
// branch that holds no FieldError becomes one whose Msg is that branch's
// whole text.
func FieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return []*FieldError{{Msg: err.Error()}}
	}
	switch e := err.(type) {
	case *FieldError:
		return []*FieldError{e}
	case interface{ Unwrap() []error }:
		var out []*FieldError
		for _, c := range e.Unwrap() {
			out = append(out, FieldErrors(c)...)
		}
		return out
	case interface{ Unwrap() error }:
		return FieldErrors(e.Unwrap())
	}
	return []*FieldError{fe} // an error type with its own As method
}

// Line returns the line of the YAML path ("routes[1].tls.ca_file") in the
// file c was loaded from, or of its nearest ancestor present there (a missing
// key is placed at its parent mapping); 0 when c did not come from Load or
// not even the path's first element is in the file.
func (c *Config) Line(path string) int {
	return lineFor(c.lines, path)
}

// Locate flattens err (FieldErrors) and places every problem that names no
// file of its own in c's file, at the line of its path. Problems that name a
// file (the users file's file:line) are kept as they are. The FieldErrors in
// err are not modified.
func (c *Config) Locate(err error) []*FieldError {
	list := FieldErrors(err)
	for i, fe := range list {
		if fe.File == "" {
			located := *fe
			located.File, located.Line = c.Path, c.Line(fe.Path)
			list[i] = &located
		}
	}
	return list
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

// YAMLError turns a yaml.v3 parse error of file into a FieldError, with the
// line when yaml.v3 names one (it names none for some problems, such as an
// unknown anchor or one on the first line).
func YAMLError(file string, err error) *FieldError {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &FieldError{File: file, Line: n, Msg: m[2]}
	}
	return &FieldError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}
