package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadConfig: whatever the bytes, Load never panics and returns either a
// config that passes Validate or only *FieldErrors.
func FuzzLoadConfig(f *testing.F) {
	for _, name := range []string{"minimal.yaml", "production.yaml", "full.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"",
		"users: {file: users.yaml}\n",
		"server: 5\n",
		"- a\n",
		"a: b: c\n",
		"server:\n\tlisten: x\n",
		"log: {level: info}\n---\nlog: {}\n",
		"server: &s\n  <<: *s\n",
		"routes:\n  - &r {name: a, upstream: \"echo:\"}\n  - {<<: [*r, *r], name: b}\n" + usersLine,
		"tokens:\n  audience: ${AUD:-x}\n  issuer: \"$${X}\"\n" + usersLine,
		"sessions:\n  max_per_user: ${N}\n",
		"routes:\n  - name: r\n    path_prefix: /a/../b\n    upstream: http://u:p@h/?q#f\n" + usersLine,
		"tokens:\n  keys:\n    - {id: k, alg: HS256, secret: \"base64:!!\"}\n" + usersLine,
		"users:\n  file: users.yaml\n  argon2: {max_parallelism: 300}\n",
		"admin:\n  token_file: /dev/zero\n" + usersLine,
	} {
		f.Add([]byte(seed))
	}
	dir := fixtureDir(f)
	file := filepath.Join(dir, "gateway.yaml")
	env := mapLookup(map[string]string{"AUD": "apps", "N": "3"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(file, data, env)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted a config that fails Validate: %v", verr)
			}
			return
		}
		if c != nil {
			t.Fatal("config returned together with an error")
		}
		for _, fe := range FieldErrors(err) {
			if fe.File != file {
				t.Fatalf("problem without the file name: %v", fe)
			}
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("error %v is not a *FieldError", err)
		}
	})
}
