package config

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The decoder walks the yaml.Node tree against the Go types itself instead of
// using yaml.v3's Decode: it must be strict at every depth (KnownFields is not
// inherited by custom unmarshalers), expand the environment in values before
// they are typed, keep explicit zero values over defaults, and record the line
// of every YAML path for error messages.

// nodeBudget bounds the nodes visited, aliases included, so an alias bomb
// cannot make Load run for minutes.
const nodeBudget = 200_000

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	routeType    = reflect.TypeFor[Route]()
	providerType = reflect.TypeFor[IdentityProvider]()
)

type decoder struct {
	lookup func(string) (string, bool)
	lines  map[string]int      // YAML path → line of its key (or list element)
	bad    map[string]bool     // paths that failed to decode
	active map[*yaml.Node]bool // aliases being expanded (self-reference guard)
	probs  problems
	budget int
}

func newDecoder(lookup func(string) (string, bool)) *decoder {
	return &decoder{
		lookup: lookup,
		lines:  map[string]int{},
		bad:    map[string]bool{},
		active: map[*yaml.Node]bool{},
		budget: nodeBudget,
	}
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.probs.addLine(n.Line, path, format, args...)
	d.bad[path] = true
}

// decode stores node n into v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget <= 0 {
		return
	}
	d.budget--
	if d.budget == 0 {
		d.fail(n, path, "document too large (too many nodes or alias expansions)")
		return
	}
	if _, ok := d.lines[path]; !ok && path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		if d.active[n] || n.Alias == nil {
			d.fail(n, path, "alias *%s refers to itself", n.Value)
			return
		}
		d.active[n] = true
		d.decode(n.Alias, v, path)
		delete(d.active, n)
		return
	}
	if isNull(n) {
		// An empty value keeps the default; an explicit zero ("0", "false",
		// "") replaces it.
		if v.Kind() == reflect.Pointer {
			v.Set(reflect.Zero(v.Type()))
		}
		return
	}
	switch {
	case v.Type() == durationType, v.Type() == prefixType:
		d.scalar(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			p.Elem().Set(v.Elem())
		}
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.Map:
		d.stringMap(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// stringMap decodes a mapping of plain string keys (role_map); values
// decode as the map's element type.
func (d *decoder) stringMap(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || isMerge(k) {
			d.fail(k, path, "a mapping key must be a plain string")
			continue
		}
		child := path + "." + k.Value
		if first, dup := seen[k.Value]; dup {
			d.fail(k, child, "duplicate key (first set at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[child] = k.Line
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, ev, child)
		m.SetMapIndex(reflect.ValueOf(k.Value), ev)
	}
	v.Set(m)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	// Merge keys (<<: *anchor) first, so explicit keys override them.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMerge(n.Content[i]) {
			d.merge(n.Content[i+1], v, path)
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a mapping key must be a plain string")
			continue
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, child, "duplicate key (first set at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, child, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		d.lines[child] = k.Line
		d.decode(val, v.Field(idx), child)
	}
}

// merge applies a "<<" value: a mapping, an alias to one, or a list of them
// (earlier entries win, as in YAML 1.1).
func (d *decoder) merge(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.SequenceNode {
		for i := len(n.Content) - 1; i >= 0; i-- {
			d.decode(n.Content[i], v, path)
		}
		return
	}
	d.decode(n, v, path)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, e := range n.Content {
		ep := fmt.Sprintf("%s[%d]", path, i)
		if isNull(e) {
			d.lines[ep] = e.Line
			d.fail(e, ep, "empty list element")
			continue
		}
		ev := s.Index(i)
		switch ev.Type() {
		case routeType:
			ev.Set(reflect.ValueOf(DefaultRoute()))
		case providerType:
			ev.Set(reflect.ValueOf(DefaultIdentityProvider()))
		}
		d.decode(e, ev, ep)
	}
	v.Set(s)
}

// scalar expands the environment in a scalar and decodes the result as v's type.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected %s, got %s", typeName(v.Type()), kindName(n))
		return
	}
	s, err := expand(n.Value, d.lookup)
	if err != nil {
		d.fail(n, path, "%v", err)
		return
	}
	// Quote the text as written in the file, never an expanded value: the
	// environment may hold a secret that landed in the wrong key.
	shown := strconv.Quote(n.Value)
	if s != n.Value {
		shown += " (after environment expansion)"
	}
	switch {
	case v.Type() == durationType:
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.fail(n, path, "invalid duration %s: want Go syntax such as 500ms, 30s, 5m, 1h30m", shown)
			return
		}
		v.SetInt(int64(dur))
		return
	case v.Type() == prefixType:
		p, err := parsePrefix(s)
		if err != nil {
			d.fail(n, path, "invalid CIDR %s: %v", shown, err)
			return
		}
		v.Set(reflect.ValueOf(p))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		switch s {
		case "true", "True", "TRUE":
			v.SetBool(true)
		case "false", "False", "FALSE":
			v.SetBool(false)
		default:
			d.fail(n, path, "invalid boolean %s: want true or false", shown)
		}
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, v.Type().Bits())
		if err != nil {
			d.fail(n, path, "invalid integer %s%s", shown, rangeHint(err))
			return
		}
		v.SetInt(i)
	case reflect.Uint8, reflect.Uint32:
		u, err := strconv.ParseUint(s, 10, v.Type().Bits())
		if err != nil {
			d.fail(n, path, "invalid non-negative integer %s%s", shown, rangeHint(err))
			return
		}
		v.SetUint(u)
	default:
		d.fail(n, path, "internal error: cannot decode into %s", v.Type())
	}
}

func rangeHint(err error) string {
	if errors.Is(err, strconv.ErrRange) {
		return ": out of range"
	}
	return ""
}

// parsePrefix accepts a CIDR or a bare address (a single-host prefix). Host
// bits are masked off ("10.1.2.3/24" is 10.1.2.0/24).
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("want an address or address/bits")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("want an address or address/bits")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// yamlFields maps yaml tag names to field indexes of struct type t.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

// suggest names the closest known key for a likely typo.
func suggest(key string, fields map[string]int) string {
	best, bestDist := "", 3
	for name := range fields {
		if dist := editDistance(key, name); dist < bestDist || dist == bestDist && best != "" && name < best {
			best, bestDist = name, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t == prefixType:
		return "a CIDR"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Struct:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return "an integer"
}
