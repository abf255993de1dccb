package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Size limits for files Load reads.
const (
	maxConfigBytes = 4 << 20
	maxSecretBytes = 64 << 10
)

// Load reads the config file at path and returns a ready-to-use Config:
// defaults, then the file decoded strictly with the environment expanded in
// values, per-route defaults, _file secrets read, relative file paths
// resolved against the file's directory, derived defaults filled, and
// Validate passed. Every problem is reported at once as a *FieldError
// ("file:line: yaml.path: message"), joined with errors.Join.
func Load(path string) (*Config, error) {
	data, err := readLimited(path, maxConfigBytes)
	if err != nil {
		return nil, &FieldError{File: path, Msg: causeOf(err), Err: err}
	}
	return parse(path, data, os.LookupEnv)
}

// parse is Load without reading the config file itself.
func parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	root, ferr := parseYAML(file, data)
	if ferr != nil {
		return nil, ferr
	}
	d := newDecoder(lookup)
	c := defaults()
	if root != nil {
		d.decode(root, reflect.ValueOf(c).Elem(), "")
	}
	c.Path, c.lines = file, d.lines
	c.normalize()
	l := loader{dir: filepath.Dir(file), d: d}
	l.resolvePaths(c)
	l.readSecrets(c)
	l.readLogo(c)
	c.fillDerived()

	list := d.probs.list
	for _, fe := range FieldErrors(c.Validate()) {
		// A value that failed to decode kept its default; do not pile a
		// validation error on top of the decode error.
		if underAny(fe.Path, d.bad) {
			continue
		}
		fe.Line = lineFor(d.lines, fe.Path)
		list = append(list, fe)
	}
	if len(list) == 0 {
		return c, nil
	}
	for _, fe := range list {
		fe.File = file
	}
	sortProblems(list)
	errs := make([]error, len(list))
	for i, fe := range list {
		errs[i] = fe
	}
	return nil, errors.Join(errs...)
}

// parseYAML parses exactly one YAML document; it returns nil for an empty one.
func parseYAML(file string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, YAMLError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, YAMLError(file, err)
		}
		return nil, &FieldError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root := doc.Content[0]
		if isNull(root) {
			return nil, nil
		}
		if root.Kind != yaml.MappingNode {
			return nil, &FieldError{File: file, Line: root.Line, Msg: "expected a mapping at the top level, got " + kindName(root)}
		}
		return root, nil
	}
	return nil, nil
}

// readLimited reads a regular file of at most limit bytes. Its errors do not
// name the file; callers add it.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// normalize applies the case rules: methods upper-case; hosts lower-case
// without a trailing dot; redirect hosts and origins lower-case.
func (c *Config) normalize() {
	for i := range c.Routes {
		r := &c.Routes[i]
		r.Host = strings.TrimSuffix(strings.ToLower(r.Host), ".")
		for j, m := range r.Methods {
			r.Methods[j] = strings.ToUpper(m)
		}
	}
	for i, h := range c.Login.AllowedRedirectHosts {
		h = strings.ToLower(h)
		if host, port, ok := strings.Cut(h, ":"); ok {
			h = strings.TrimSuffix(host, ".") + ":" + port
		} else {
			h = strings.TrimSuffix(h, ".")
		}
		c.Login.AllowedRedirectHosts[i] = h
	}
	for i, o := range c.Login.TrustedOrigins {
		c.Login.TrustedOrigins[i] = strings.ToLower(o)
	}
	c.Cookies.Domain = strings.ToLower(c.Cookies.Domain)
}

type loader struct {
	dir string
	d   *decoder
}

func (l *loader) fail(path, format string, args ...any) {
	l.d.probs.addLine(lineFor(l.d.lines, path), path, format, args...)
	l.d.bad[path] = true
}

// fileRefs lists every file path in the config with its YAML path.
func (c *Config) fileRefs() []fileRef {
	refs := []fileRef{
		{"server.tls.cert_file", &c.Server.TLS.CertFile},
		{"server.tls.key_file", &c.Server.TLS.KeyFile},
		{"admin.token_file", &c.Admin.TokenFile},
		{"sessions.redis.password_file", &c.Sessions.Redis.PasswordFile},
		{"sessions.redis.sentinel_password_file", &c.Sessions.Redis.SentinelPasswordFile},
		{"sessions.redis.tls.ca_file", &c.Sessions.Redis.TLS.CAFile},
		{"sessions.redis.tls.cert_file", &c.Sessions.Redis.TLS.CertFile},
		{"sessions.redis.tls.key_file", &c.Sessions.Redis.TLS.KeyFile},
		{"users.file", &c.Users.File},
		{"ui.logo_file", &c.UI.LogoFile},
	}
	for i := range c.IdentityProviders {
		refs = append(refs, fileRef{fmt.Sprintf("identity_providers[%d].client_secret_file", i), &c.IdentityProviders[i].ClientSecretFile})
	}
	for i := range c.Tokens.Keys {
		k := &c.Tokens.Keys[i]
		p := fmt.Sprintf("tokens.keys[%d].", i)
		refs = append(refs,
			fileRef{p + "secret_file", &k.SecretFile},
			fileRef{p + "private_key_file", &k.PrivateKeyFile},
			fileRef{p + "public_key_file", &k.PublicKeyFile})
	}
	for i := range c.Routes {
		t := &c.Routes[i].TLS
		p := fmt.Sprintf("routes[%d].tls.", i)
		refs = append(refs,
			fileRef{p + "ca_file", &t.CAFile},
			fileRef{p + "cert_file", &t.CertFile},
			fileRef{p + "key_file", &t.KeyFile})
	}
	return refs
}

type fileRef struct {
	path string
	file *string
}

// resolvePaths makes relative file paths relative to the config file's
// directory and checks that every named file exists (reported with its line;
// the files themselves are parsed by their consumers).
func (l *loader) resolvePaths(c *Config) {
	for _, ref := range c.fileRefs() {
		if *ref.file == "" || l.d.bad[ref.path] {
			continue
		}
		if !filepath.IsAbs(*ref.file) {
			*ref.file = filepath.Join(l.dir, *ref.file)
		}
		st, err := os.Stat(*ref.file)
		switch {
		case err != nil:
			l.fail(ref.path, "%s", fileErr(*ref.file, err))
		case !st.Mode().IsRegular():
			// Also keeps Load from blocking on a FIFO or a device.
			l.fail(ref.path, "%s is not a regular file", *ref.file)
		}
	}
}

// fileErr formats a file error as "path: cause" (without the os op).
func fileErr(path string, err error) string {
	return path + ": " + causeOf(err)
}

// causeOf strips the op and path from an *os.PathError.
func causeOf(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// readSecrets fills each secret from its _file twin (trailing newlines
// trimmed, as written by echo or a Kubernetes secret); setting both is an error.
func (l *loader) readSecrets(c *Config) {
	type pair struct {
		path, filePath string
		value          *Secret
		file           string
	}
	pairs := []pair{
		{"admin.token", "admin.token_file", &c.Admin.Token, c.Admin.TokenFile},
		{"sessions.redis.password", "sessions.redis.password_file", &c.Sessions.Redis.Password, c.Sessions.Redis.PasswordFile},
		{"sessions.redis.sentinel_password", "sessions.redis.sentinel_password_file", &c.Sessions.Redis.SentinelPassword, c.Sessions.Redis.SentinelPasswordFile},
	}
	for i := range c.Tokens.Keys {
		k := &c.Tokens.Keys[i]
		p := fmt.Sprintf("tokens.keys[%d].", i)
		pairs = append(pairs, pair{p + "secret", p + "secret_file", &k.Secret, k.SecretFile})
	}
	for i := range c.IdentityProviders {
		ip := &c.IdentityProviders[i]
		p := fmt.Sprintf("identity_providers[%d].", i)
		pairs = append(pairs, pair{p + "client_secret", p + "client_secret_file", &ip.ClientSecret, ip.ClientSecretFile})
	}
	for _, p := range pairs {
		if p.file == "" || l.d.bad[p.filePath] {
			continue
		}
		if *p.value != "" {
			l.fail(p.filePath, "set only one of %s and %s", lastKey(p.path), lastKey(p.filePath))
			continue
		}
		data, err := readLimited(p.file, maxSecretBytes)
		if err != nil {
			l.fail(p.filePath, "%s", fileErr(p.file, err))
			continue
		}
		s := strings.TrimRight(string(data), "\r\n")
		if s == "" {
			l.fail(p.filePath, "%s is empty", p.file)
			continue
		}
		*p.value = Secret(s)
	}
}

func lastKey(path string) string {
	return path[strings.LastIndexByte(path, '.')+1:]
}
