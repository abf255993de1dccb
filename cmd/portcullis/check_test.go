package main

import (
	"regexp"
	"strings"
	"testing"
)

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

func TestYAMLLine(t *testing.T) {
	t.Parallel()
	src := "server:\n  listen: x\ntokens:\n  keys:\n    - id: a\n    - id: b\n      alg: EdDSA\n"
	path := writeFile(t, t.TempDir(), "g.yaml", src)
	tests := []struct {
		err  string
		want string
	}{
		{"tokens.keys[1]: bad", path + ":6: tokens.keys[1]: bad"},
		{"tokens.keys[1].alg: bad", path + ":7: tokens.keys[1].alg: bad"},
		{"tokens.keys[9]: bad", path + ":4: tokens.keys[9]: bad"},
		{"server.tls: bad", path + ":1: server.tls: bad"},
		{"sessions.redis: bad", path + ": sessions.redis: bad"},
		{"other.yaml:3: x: y", "other.yaml:3: x: y"},
	}
	for _, tt := range tests {
		got := locate(path, errString(tt.err))
		if len(got) != 1 || got[0] != tt.want {
			t.Errorf("locate(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
