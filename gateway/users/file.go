package users

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/portcullis-gw/portcullis/config"
)

// maxFileSize bounds the users file read: about 110 000 users with argon2id
// hashes (130–150 bytes an entry; docs/authentication.md).
const maxFileSize = 16 << 20

// User is one account of the users file. Roles must not be modified.
type User struct {
	Name     string
	Roles    []string
	Disabled bool
	// Fingerprint is a short stable digest of the password hash (hex of the
	// first 16 bytes of its SHA-256): sessions record it at login, and a
	// changed password changes it, ending older sessions. It reveals nothing
	// usable: the salt is not in it.
	Fingerprint string
}

// Fingerprint is User.Fingerprint of a password hash string: the hex of the
// first 16 bytes of its SHA-256.
func Fingerprint(passwordHash string) string {
	sum := sha256.Sum256([]byte(passwordHash))
	return hex.EncodeToString(sum[:16])
}

type entry struct {
	user User
	hash hash
}

// Set is an immutable, parsed users file.
type Set struct {
	users map[string]*entry
	dummy hash // verified for unknown users: see dummyFor
	// onVerify, when set by a test, observes every hash verification.
	onVerify func(h hash)
}

// Len returns the number of users.
func (s *Set) Len() int { return len(s.users) }

// Lookup returns the user named exactly name (no case folding).
func (s *Set) Lookup(name string) (User, bool) {
	e, ok := s.users[name]
	if !ok {
		return User{}, false
	}
	return e.user.clone(), true
}

// Authenticate reports whether password is name's and the user is enabled.
// Unknown users, wrong passwords and disabled users cost the same: an unknown
// user is checked against a dummy hash with the scheme and cost most users
// of the file have (dummyFor), and a disabled user's hash is still verified.
// It returns the user only on success.
func (s *Set) Authenticate(name, password string) (User, bool) {
	e, h, acceptable := s.pick(name, password)
	matched := s.verify(h, password)
	if e == nil || !acceptable || !matched || e.user.Disabled {
		return User{}, false
	}
	return e.user.clone(), true
}

// Lanes is how many cores Authenticate(name, password) keeps busy at once:
// the argon2id parallelism of the hash it will verify (1 for bcrypt). The
// gateway's admission bound weighs each check by it.
func (s *Set) Lanes(name, password string) int {
	if _, h, _ := s.pick(name, password); h != nil {
		if a, ok := h.(*argonHash); ok {
			return int(a.parallelism)
		}
	}
	return 1
}

// pick returns name's entry (nil when unknown) and the hash Authenticate
// verifies: the user's own, or the dummy for an unknown user or an
// unacceptable password (still pay the price; never hash a megabyte).
func (s *Set) pick(name, password string) (*entry, hash, bool) {
	h := s.dummy
	if h == nil {
		h = dummyHash
	}
	e := s.users[name]
	acceptable := password != "" && len(password) <= MaxPasswordBytes
	if e != nil && acceptable {
		h = e.hash
	}
	return e, h, acceptable
}

// verify checks password against h; the test hook runs only after the work
// was done, so skipping the hash (a timing oracle) fails the tests.
func (s *Set) verify(h hash, password string) bool {
	ok := h.verify([]byte(password))
	if s.onVerify != nil {
		s.onVerify(h)
	}
	return ok
}

func (u User) clone() User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

// Load reads and parses the users file (SPEC §3). Decoding is strict: an
// unknown key, a wrong type, an invalid username or role, or a hash that
// does not parse or exceeds limit fails the whole file. An empty file or one
// without users is refused. The file is never environment-expanded. Zero
// fields of limit mean the SPEC defaults (256 MiB, t=10, p=16).
//
// Every problem is a *config.FieldError (several are joined with
// errors.Join): one in the file's content names the users file, its line and
// the path inside it (users.alice.roles[1]); a file that cannot be read is
// the config's users.file, wrapping the cause.
func Load(path string, limit config.Argon2Limit) (*Set, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, &config.FieldError{Path: "users.file", Msg: path + ": " + causeOf(err), Err: err}
	}
	return parse(path, data, limit)
}

// causeOf strips the op and path from an *os.PathError (the path is named
// once, by the caller).
func causeOf(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return data, nil
}

// parser accumulates every problem of one file, each a *config.FieldError
// with file:line and the path inside the users file.
type parser struct {
	file  string
	limit config.Argon2Limit
	errs  []error
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, &config.FieldError{File: p.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func parse(file string, data []byte, limit config.Argon2Limit) (*Set, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &config.FieldError{File: file, Msg: "empty users file"}
		}
		return nil, config.YAMLError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &config.FieldError{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	p := &parser{file: file, limit: limit}
	s := &Set{users: make(map[string]*entry)}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		p.errorf(&doc, "", "the users file must be a mapping with a users: key")
		return nil, errors.Join(p.errs...)
	}
	root := doc.Content[0]
	var usersNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value != "users" {
			p.errorf(k, "", "unknown key %q (want users)", k.Value)
			continue
		}
		if usersNode != nil {
			p.errorf(k, "users", "defined twice")
			continue
		}
		usersNode = v
	}
	switch {
	case usersNode == nil:
		p.errorf(root, "users", "required")
	case usersNode.Kind == yaml.ScalarNode && usersNode.Tag == "!!null":
		p.errorf(usersNode, "users", "no users defined")
	case usersNode.Kind != yaml.MappingNode:
		p.errorf(usersNode, "users", "must be a mapping of username to user")
	default:
		p.users(usersNode, s)
		if len(s.users) == 0 && len(p.errs) == 0 {
			p.errorf(usersNode, "users", "no users defined")
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	hs := make([]hash, 0, len(s.users))
	for _, e := range s.users {
		hs = append(hs, e.hash)
	}
	s.dummy = dummyFor(hs)
	return s, nil
}

func (p *parser) users(n *yaml.Node, s *Set) {
	lines := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			p.errorf(k, "users", "keys must be usernames")
			continue
		}
		name := k.Value
		if !config.ValidUsername(name) {
			p.errorf(k, "users."+quoteName(name), "invalid username (want "+config.UsernameGrammar+")")
			continue
		}
		if line, dup := lines[name]; dup {
			p.errorf(k, "users."+name, "duplicate user (first at line %d)", line)
			continue
		}
		lines[name] = k.Line
		if e := p.user(name, v); e != nil {
			s.users[name] = e
		}
	}
}

// quoteName keeps an invalid username printable and short in an error.
func quoteName(name string) string {
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	return fmt.Sprintf("%q", name)
}

func (p *parser) user(name string, n *yaml.Node) *entry {
	path := "users." + name
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "must be a mapping with password_hash, roles, disabled")
		return nil
	}
	before := len(p.errs)
	e := &entry{user: User{Name: name}}
	var hashNode *yaml.Node
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, path+"."+k.Value, "defined twice")
			continue
		}
		seen[k.Value] = true
		switch k.Value {
		case "password_hash":
			hashNode = v
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				p.errorf(v, path+".password_hash", "must be a string")
				continue
			}
			h, err := parseHash(v.Value, p.limit)
			if err != nil {
				p.errorf(v, path+".password_hash", "%v", err)
				continue
			}
			e.hash = h
			e.user.Fingerprint = Fingerprint(v.Value)
		case "roles":
			e.user.Roles = p.roles(path, v)
		case "disabled":
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&e.user.Disabled) != nil {
				p.errorf(v, path+".disabled", "must be true or false")
			}
		default:
			p.errorf(k, path, "unknown key %q (want password_hash, roles, disabled)", k.Value)
		}
	}
	if hashNode == nil {
		p.errorf(n, path+".password_hash", "required")
	}
	if len(p.errs) > before {
		return nil
	}
	return e
}

func (p *parser) roles(path string, n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path+".roles", "must be a list of role names")
		return nil
	}
	var roles []string
	for i, r := range n.Content {
		// Plain scalars only (a role "2024" is tagged !!int); never null or an alias.
		plain := r.Tag == "!!str" || r.Tag == "!!int" || r.Tag == "!!float" || r.Tag == "!!bool"
		if r.Kind != yaml.ScalarNode || !plain || !config.ValidRole(r.Value) {
			p.errorf(r, fmt.Sprintf("%s.roles[%d]", path, i), "invalid role (want "+config.RoleGrammar+")")
			continue
		}
		if !slices.Contains(roles, r.Value) {
			roles = append(roles, r.Value)
		}
	}
	return roles
}
