package config

import (
	"fmt"
	"reflect"
	"strings"
)

// ReloadBlockers returns the YAML paths whose change between old and new
// cannot be applied by a SIGHUP reload (SPEC §8); a non-empty result refuses
// the whole reload. Blocked: every listener (server.listen, server.tls turned
// on or off, metrics.listen, admin.listen, admin turned on or off), the
// listener settings read once at start-up (server.read_header_timeout,
// server.idle_timeout, server.max_header_bytes, server.auth_prefix,
// log.format), anything under sessions.* and cookies.*, tokens.issuer,
// tokens.audience, and users.file and users.argon2 (the users store is built
// once around its file path and hash caps; the file's contents reload).
// Routes, server.endpoint_body_timeout, the users file's contents, headers,
// login, tokens.keys, TLS certificate files and log.level may change. This is the one list of what
// needs a restart: main refuses a reload on it and checks nothing else.
func ReloadBlockers(old, new *Config) []string {
	var out []string
	block := func(path string, changed bool) {
		if changed {
			out = append(out, path)
		}
	}
	block("server.listen", old.Server.Listen != new.Server.Listen)
	block("server.tls", old.Server.TLS.Enabled() != new.Server.TLS.Enabled())
	block("server.read_header_timeout", old.Server.ReadHeaderTimeout != new.Server.ReadHeaderTimeout)
	block("server.idle_timeout", old.Server.IdleTimeout != new.Server.IdleTimeout)
	block("server.max_header_bytes", old.Server.MaxHeaderBytes != new.Server.MaxHeaderBytes)
	block("server.auth_prefix", old.Server.AuthPrefix != new.Server.AuthPrefix)
	block("metrics.listen", old.Metrics.Listen != new.Metrics.Listen)
	block("admin.token", old.Admin.Enabled() != new.Admin.Enabled())
	block("admin.listen", old.Admin.Listen != new.Admin.Listen && (old.Admin.Enabled() || new.Admin.Enabled()))
	block("tokens.issuer", old.Tokens.Issuer != new.Tokens.Issuer)
	block("tokens.audience", old.Tokens.Audience != new.Tokens.Audience)
	diffPaths(reflect.ValueOf(old.Sessions), reflect.ValueOf(new.Sessions), "sessions", &out)
	diffPaths(reflect.ValueOf(old.Cookies), reflect.ValueOf(new.Cookies), "cookies", &out)
	diffPaths(reflect.ValueOf(old.Users), reflect.ValueOf(new.Users), "users", &out)
	block("log.format", old.Log.Format != new.Log.Format)
	return out
}

// diffPaths appends the YAML path of every leaf that differs between a and b
// (structs are walked by yaml tag; lists and scalars compare as a whole).
func diffPaths(a, b reflect.Value, path string, out *[]string) {
	if a.Kind() == reflect.Struct && a.Type() != prefixType {
		t := a.Type()
		for i := range t.NumField() {
			tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			diffPaths(a.Field(i), b.Field(i), fmt.Sprintf("%s.%s", path, tag), out)
		}
		return
	}
	if !reflect.DeepEqual(a.Interface(), b.Interface()) {
		*out = append(*out, path)
	}
}
