package config

// The name grammars of SPEC §3, in one place for everything that checks
// them: route roles and OIDC role maps here, the users file
// (gateway/users), OIDC accounts (gateway/oidc) and the failed-login log
// line (gateway). Byte loops rather than regexps: `{1,128}` compiles to a
// program of about 120 KB that would stay on the heap for the process's
// life, and a long-lived heap makes every garbage collection of the request
// path cost more (bench/README.md, "What was tried").

// The grammars as error messages name them.
const (
	UsernameGrammar = "[A-Za-z0-9._@+-]{1,128}"
	RoleGrammar     = "[A-Za-z0-9._:-]+"
)

// maxUsername is the longest username UsernameGrammar allows.
const maxUsername = 128

// ValidUsername reports whether s obeys UsernameGrammar.
func ValidUsername(s string) bool {
	if len(s) == 0 || len(s) > maxUsername {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) && s[i] != '@' && s[i] != '+' {
			return false
		}
	}
	return true
}

// ValidRole reports whether s obeys RoleGrammar.
func ValidRole(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) && s[i] != ':' {
			return false
		}
	}
	return true
}

// nameByte reports whether c is in [A-Za-z0-9._-], the part both grammars
// share.
func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}
