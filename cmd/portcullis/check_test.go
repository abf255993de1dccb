package main

import (
	"regexp"
	"strings"
	"testing"
)

// providersOnly is an identity_providers section whose provider is down
// (check does not need it up: discovery is retried at sign-in).
const providersOnly = "identity_providers:\n  - name: corp\n    issuer: http://127.0.0.1:1\n    client_id: portcullis\n"

func TestCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", publicRoute)
	tests := []struct {
		name string
		body string
		// want are substrings each expected on some stderr line. Every line
		// is "file[:line]: ..." (the line is absent for a key the file lacks).
		want []string
	}{
		{"good", good, nil},
		{"syntax error", "server:\n  listen: [unclosed\n", []string{""}},
		{"unknown key", strings.Replace(good, "shutdown_delay:", "shutdwn_delay:", 1), []string{":3: server.shutdwn_delay: "}},
		{"several problems", "server:\n  read_header_timeout: soon\nroutes:\n  - name: Bad Name\n    upstream: ftp://x\n",
			[]string{"server.read_header_timeout: ", "routes[0].name: ", "routes[0].upstream: "}},
		{"missing users file", strings.Replace(good, demoUsers(t), dir+"/nope.yaml", 1), []string{"users.file: ", "nope.yaml"}},
		{"identity provider without users file", strings.Replace(good, "users:\n  file: \""+demoUsers(t)+"\"\n", "", 1) + providersOnly, nil},
		{"bad identity provider", good + "identity_providers:\n  - name: Bad\n    issuer: http://id.example.com\n    client_id: c\n    scopes: [profile]\n",
			[]string{"identity_providers[0].name: ", "identity_providers[0].issuer: ", "identity_providers[0].scopes: must include openid"}},
		{"unreadable key file", good + "tokens:\n  keys:\n    - id: k1\n      alg: EdDSA\n      private_key_file: " + dir + "/missing.pem\n",
			[]string{"tokens.keys[0]"}},
	}
	lineRE := regexp.MustCompile(`^[^\s:]+(:\d+)?: [^\s]`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "gateway.yaml", tt.body)
			code, out, errOut := runBin(t, nil, "check", "-config", path)
			if len(tt.want) == 0 {
				if code != 0 || !strings.Contains(out, "ok") {
					t.Fatalf("check exit = %d, stdout %q, want 0 and ok; stderr:\n%s", code, out, errOut)
				}
				return
			}
			if code != 1 {
				t.Fatalf("check exit = %d, want 1; stderr:\n%s", code, errOut)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			for _, l := range lines {
				if !lineRE.MatchString(l) {
					t.Errorf("check line %q is not file[:line]: path: message", l)
				}
			}
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.Contains(l, w)
				}
				if !found {
					t.Errorf("check output lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

func TestCheckLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body := "server:\n  listen: \":8080\"\n  lisen: x\nusers:\n  file: " + demoUsers(t) + "\n" +
		"tokens:\n  keys:\n    - id: k1\n      alg: HS256\n      secret: \"" + strings.Repeat("s", 32) + "\"\n" +
		"    - id: k2\n      alg: EdDSA\n      public_key_file: " + writeFile(t, dir, "bad.pem", "junk") + "\n"
	path := writeFile(t, dir, "gateway.yaml", body)
	_, _, errOut := runBin(t, nil, "check", "-config", path)
	for _, want := range []string{
		path + ":3: server.lisen: ",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check stderr = %q, want a line starting %q", errOut, want)
		}
	}
	// With the config itself valid, a bad key file is located at its key.
	body = strings.Replace(body, "  lisen: x\n", "", 1)
	path = writeFile(t, dir, "gateway.yaml", body)
	code, _, errOut := runBin(t, nil, "check", "-config", path)
	if want := path + ":12: tokens.keys[1].public_key_file: "; code != 1 || !strings.HasPrefix(errOut, want) {
		t.Errorf("check = %d %q, want 1 and a line starting %q", code, errOut, want)
	}
}

func TestCheckConfigFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeFile(t, dir, "custom.yaml", testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", publicRoute))
	code, out, errOut := runBin(t, []string{configEnv + "=" + path}, "check")
	if code != 0 || !strings.Contains(out, path) {
		t.Errorf("PORTCULLIS_CONFIG check: exit %d stdout %q stderr %q, want 0 naming %s", code, out, errOut, path)
	}
	// Without -config or the variable: ./gateway.yaml.
	writeFile(t, dir, "gateway.yaml", testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", publicRoute))
	code, out, errOut = runBinIn(t, dir, nil, "check")
	if code != 0 || !strings.Contains(out, "gateway.yaml: ok") {
		t.Errorf("check in a directory with gateway.yaml: exit %d stdout %q stderr %q, want 0", code, out, errOut)
	}
	code, _, errOut = runBin(t, []string{configEnv + "=" + dir + "/absent.yaml"}, "check")
	if code != 1 || !strings.Contains(errOut, "absent.yaml") {
		t.Errorf("check of a missing file: exit %d stderr %q, want 1 naming the file", code, errOut)
	}
}

// TestCheckProblemLines: every problem found outside the config parser (key
// files, the users file, TLS files, the gateway) is printed exactly as
// "file:line: yaml.path: message", located from the config's own line index;
// a users-file entry names the users file's own line.
func TestCheckProblemLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junk := writeFile(t, dir, "junk.pem", "junk")
	secret := `"` + strings.Repeat("s", 32) + `"`
	good := testConfig(t, "127.0.0.1:18080", "127.0.0.1:19464", "") // extra text starts on line 15
	badUsers := writeFile(t, dir, "bad-users.yaml",
		strings.Replace(usersFile(t, "alice"), "roles: [staff]", `roles: [staff, "sta ff"]`, 1))
	emptyUsers := writeFile(t, dir, "empty-users.yaml", "")
	tests := []struct {
		name string
		body string
		want func(cfg string) string
	}{
		{"route ca_file", good + "routes:\n  - name: web\n    path_prefix: /\n    upstream: \"echo:\"\n" +
			"  - name: api\n    path_prefix: /api\n    upstream: https://api.internal\n    tls:\n      ca_file: " + junk + "\n",
			func(cfg string) string {
				return cfg + ":23: routes[1].tls.ca_file: " + junk + ": no PEM certificate found"
			}},
		{"tokens key file", good + "tokens:\n  keys:\n    - id: hs\n      alg: HS256\n      secret: " + secret + "\n" +
			"    - id: ed\n      alg: EdDSA\n      private_key_file: " + junk + "\n" + publicRoute,
			func(cfg string) string {
				return cfg + ":22: tokens.keys[1].private_key_file: " + junk + ": no PEM key found"
			}},
		{"assertion with HMAC-only keys", good + "headers:\n  assertion: X-Assertion\n" +
			"tokens:\n  keys:\n    - id: hs\n      alg: HS256\n      secret: " + secret + "\n" + publicRoute,
			func(cfg string) string {
				return cfg + ":16: headers.assertion: needs an asymmetric signing key (RS256, ES256 or EdDSA with private_key_file); HMAC and public-only keys cannot sign assertions"
			}},
		{"route tie", good + "routes:\n  - name: a\n    path_prefix: /x\n    upstream: \"echo:\"\n" +
			"  - name: b\n    path_prefix: /x\n    upstream: \"echo:\"\n",
			func(cfg string) string {
				return cfg + `:19: routes[1]: route "b" ties with route "a" (routes[0]): same host, path_prefix and methods, so neither takes precedence`
			}},
		{"server certificate", strings.Replace(good, "  shutdown_delay:", "  tls:\n    cert_file: "+junk+"\n    key_file: "+junk+"\n  shutdown_delay:", 1) + publicRoute,
			func(cfg string) string {
				return cfg + ":4: server.tls.cert_file: " + junk + " (with key_file " + junk + "): tls: failed to find any PEM data in certificate input"
			}},
		{"users file entry", strings.Replace(good, demoUsers(t), badUsers, 1) + publicRoute,
			func(string) string {
				return badUsers + ":4: users.alice.roles[1]: invalid role (want [A-Za-z0-9._:-]+)"
			}},
		{"empty users file", strings.Replace(good, demoUsers(t), emptyUsers, 1) + publicRoute,
			func(string) string { return emptyUsers + ": empty users file" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, t.TempDir(), "gateway.yaml", tt.body)
			code, _, errOut := runBin(t, nil, "check", "-config", path)
			if want := tt.want(path) + "\n"; code != 1 || errOut != want {
				t.Errorf("check = %d, stderr:\n%s\nwant 1, stderr:\n%s", code, errOut, want)
			}
		})
	}
}
