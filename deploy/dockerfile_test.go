package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// dockerBuild is the Dockerfile's `go build` line: environment assignments,
// then the arguments after `go`, with the index of -o's value.
type dockerBuild struct {
	env      []string
	args     []string
	outIndex int
}

// dockerImage is what the Dockerfile's final stage says about the image.
type dockerImage struct {
	base        string
	binary      string // COPY --from=build destination
	user        string
	env         map[string]string
	entrypoint  []string
	cmd         []string
	healthcheck []string // exec form after CMD
	healthOpts  []string
}

// instructions splits a Dockerfile into instructions, joining continuation
// lines and dropping comments.
func instructions(src string) [][2]string {
	var out [][2]string
	var cur strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		kw, rest, _ := strings.Cut(cur.String(), " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(rest)})
		cur.Reset()
	}
	return out
}

// parseDockerBuild finds the one RUN with `go build` and splits it as a
// shell would, expanding ${ARG} from the ARG defaults overridden by args.
func parseDockerBuild(src string, overrides map[string]string) (dockerBuild, error) {
	vars := map[string]string{}
	var found []string
	for _, in := range instructions(src) {
		switch in[0] {
		case "ARG":
			k, v, _ := strings.Cut(in[1], "=")
			vars[k] = v
			if o, ok := overrides[k]; ok {
				vars[k] = o
			}
		case "RUN":
			if strings.Contains(in[1], "go build") {
				words, err := shellWords(in[1], vars)
				if err != nil {
					return dockerBuild{}, err
				}
				if found != nil {
					return dockerBuild{}, fmt.Errorf("more than one RUN with go build")
				}
				found = words
			}
		}
	}
	if found == nil {
		return dockerBuild{}, fmt.Errorf("no RUN with go build")
	}
	var b dockerBuild
	i := 0
	for ; i < len(found) && strings.Contains(found[i], "=") && !strings.HasPrefix(found[i], "-"); i++ {
		b.env = append(b.env, found[i])
	}
	if i+1 >= len(found) || found[i] != "go" || found[i+1] != "build" {
		return b, fmt.Errorf("RUN line %q: want [VAR=value...] go build ...", found)
	}
	b.args = found[i+1:]
	b.outIndex = slices.Index(b.args, "-o") + 1
	if b.outIndex == 0 || b.outIndex >= len(b.args) {
		return b, fmt.Errorf("go build without -o")
	}
	return b, nil
}

// shellWords splits s into words with POSIX quoting ('…', "…") and
// ${VAR} / $VAR expansion from vars (unknown variables are an error, so a
// typo cannot build silently).
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'' && c != '\'':
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			if quote == c {
				quote = 0
			} else if quote == 0 {
				quote = c
			} else {
				cur.WriteByte(c)
			}
			inWord = true
		case c == '$':
			name, n := "", 0
			if strings.HasPrefix(s[i:], "${") {
				end := strings.IndexByte(s[i:], '}')
				if end < 0 {
					return nil, fmt.Errorf("unterminated ${ in %q", s)
				}
				name, n = s[i+2:i+end], end
			} else {
				for n = 1; i+n < len(s) && (s[i+n] == '_' || s[i+n] >= 'A' && s[i+n] <= 'Z' || s[i+n] >= 'a' && s[i+n] <= 'z' || s[i+n] >= '0' && s[i+n] <= '9'); n++ {
				}
				name, n = s[i+1:i+n], n-1
			}
			v, ok := vars[name]
			if !ok {
				return nil, fmt.Errorf("unknown variable %q in %q", name, s)
			}
			cur.WriteString(v)
			i += n
			inWord = true
		case quote == 0 && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case quote == 0 && strings.IndexByte(";&|<>`()", c) >= 0:
			return nil, fmt.Errorf("shell operator %q in %q: keep the build line a single command", c, s)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// parseImage reads the final stage of the Dockerfile.
func parseImage(t *testing.T) dockerImage {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var img dockerImage
	for _, in := range instructions(string(data)) {
		switch in[0] {
		case "FROM":
			img = dockerImage{base: in[1], env: map[string]string{}}
		case "COPY":
			f := strings.Fields(in[1])
			if len(f) == 3 && f[0] == "--from=build" {
				img.binary = f[2]
			}
		case "USER":
			img.user = in[1]
		case "ENV":
			k, v, _ := strings.Cut(in[1], "=")
			img.env[k] = v
		case "ENTRYPOINT":
			img.entrypoint = execForm(t, in[1])
		case "CMD":
			img.cmd = execForm(t, in[1])
		case "HEALTHCHECK":
			opts, cmd, ok := strings.Cut(in[1], "CMD ")
			if !ok {
				t.Fatalf("HEALTHCHECK %q: want options then CMD [...]", in[1])
			}
			img.healthOpts = strings.Fields(opts)
			img.healthcheck = execForm(t, cmd)
		}
	}
	return img
}

// execForm parses a JSON exec form; the shell form would need a shell the
// distroless image does not have.
func execForm(t *testing.T, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil || len(v) == 0 {
		t.Fatalf("%q is not a JSON exec form (distroless has no shell): %v", s, err)
	}
	return v
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	img := parseImage(t)
	for _, want := range []string{"CGO_ENABLED=0"} {
		if !slices.Contains(build.env, want) {
			t.Errorf("go build environment %q lacks %s (the image has no libc)", build.env, want)
		}
	}
	for _, want := range []string{"-trimpath", "-buildvcs=false", "-ldflags"} {
		if !slices.Contains(build.args, want) {
			t.Errorf("go build arguments %q lack %s", build.args, want)
		}
	}
	if !strings.HasPrefix(img.base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %q, want a distroless static image", img.base)
	}
	if img.user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (distroless nonroot)", img.user)
	}
	if len(img.entrypoint) != 1 || img.entrypoint[0] != img.binary {
		t.Errorf("ENTRYPOINT %q, want the copied binary %q", img.entrypoint, img.binary)
	}
	if want := []string{img.binary, "health"}; !slices.Equal(img.healthcheck, want) {
		t.Errorf("HEALTHCHECK CMD %q, want %q", img.healthcheck, want)
	}
	if !slices.ContainsFunc(img.healthOpts, func(o string) bool { return strings.HasPrefix(o, "--timeout=") }) {
		t.Errorf("HEALTHCHECK options %q lack --timeout", img.healthOpts)
	}
	if img.env["PORTCULLIS_CONFIG"] == "" {
		t.Errorf("ENV lacks PORTCULLIS_CONFIG")
	}
}

func TestShellWords(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"V": "1.0", "C": "abc"}
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: `A=0 go build -ldflags "-s -X m.v=${V} -X m.c=$C" -o /o ./x`, want: []string{"A=0", "go", "build", "-ldflags", "-s -X m.v=1.0 -X m.c=abc", "-o", "/o", "./x"}},
		{in: `go build -ldflags '-X m.v=${V}'`, want: []string{"go", "build", "-ldflags", "-X m.v=${V}"}},
		{in: `go build ${NOPE}`, bad: true},
		{in: `go build "unterminated`, bad: true},
		{in: `go build && rm -rf /`, bad: true},
		{in: `go build $(id)`, bad: true},
	}
	for _, tt := range tests {
		got, err := shellWords(tt.in, vars)
		if (err != nil) != tt.bad || !slices.Equal(got, tt.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
