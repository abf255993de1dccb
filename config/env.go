package config

import (
	"fmt"
	"strings"
)

// expand substitutes the environment into one scalar value (SPEC §3):
//
//	${VAR}          the value of VAR; unset or empty is an error
//	${VAR:-default} default when VAR is unset or empty (${VAR:-} allows empty)
//	$${             a literal "${"
//
// Anything else, including a lone "$" or "$VAR", is kept as written. The
// result is never expanded again, and a default is taken literally, so a
// value from the environment cannot inject further references.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("unterminated ${ (write $${ for a literal ${)")
			}
			inner := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(inner, ":-")
			if !validEnvName(name) {
				return "", fmt.Errorf("invalid environment reference ${%s}: want ${VAR} or ${VAR:-default}", inner)
			}
			v, ok := lookup(name)
			switch {
			case ok && v != "":
				b.WriteString(v)
			case hasDef:
				b.WriteString(def)
			case !ok:
				return "", fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
			default:
				return "", fmt.Errorf("environment variable %s is empty (use ${%s:-} to allow empty)", name, name)
			}
			i += 2 + end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
