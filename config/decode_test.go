package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{
			name: "unknown top-level key",
			doc:  "servr:\n  listen: \":1\"\n" + usersLine,
			want: []string{`gateway.yaml:1: servr: unknown key (did you mean "server"?)`},
		},
		{
			name: "unknown key in a nested list element",
			doc: "routes:\n" +
				"  - name: a\n" +
				"    upstream: \"echo:\"\n" +
				"  - name: b\n" +
				"    path_prefix: /b\n" +
				"    upstrem: \"echo:\"\n" + usersLine,
			want: []string{
				"gateway.yaml:4: routes[1].upstream: required",
				`gateway.yaml:6: routes[1].upstrem: unknown key (did you mean "upstream"?)`,
			},
		},
		{
			name: "unknown key deep in a mapping",
			doc:  "sessions:\n  redis:\n    tls:\n      ca: x\n" + usersLine,
			want: []string{"gateway.yaml:4: sessions.redis.tls.ca: unknown key"},
		},
		{
			name: "scalar where a mapping belongs",
			doc:  "server: 5\n" + usersLine,
			want: []string{`gateway.yaml:1: server: expected a mapping, got "5"`},
		},
		{
			name: "list where a scalar belongs",
			doc:  "server:\n  listen: [a]\n" + usersLine,
			want: []string{"gateway.yaml:2: server.listen: expected a string, got a list"},
		},
		{
			name: "scalar where a list belongs",
			doc:  "routes:\n  - name: a\n    upstream: \"echo:\"\n    methods: GET\n" + usersLine,
			want: []string{`gateway.yaml:4: routes[0].methods: expected a list, got "GET"`},
		},
		{
			name: "word for an integer",
			doc:  "sessions:\n  max_per_user: five\n" + usersLine,
			want: []string{`gateway.yaml:2: sessions.max_per_user: invalid integer "five"`},
		},
		{
			name: "float for an integer",
			doc:  "server:\n  max_header_bytes: 1.5\n" + usersLine,
			want: []string{`gateway.yaml:2: server.max_header_bytes: invalid integer "1.5"`},
		},
		{
			name: "duration without unit",
			doc:  "sessions:\n  idle_timeout: 30\n" + usersLine,
			want: []string{`gateway.yaml:2: sessions.idle_timeout: invalid duration "30"`},
		},
		{
			name: "bad CIDR in a list",
			doc:  "server:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - 10.0.0.300/8\n" + usersLine,
			want: []string{`gateway.yaml:4: server.trusted_proxies[1]: invalid CIDR "10.0.0.300/8"`},
		},
		{
			name: "hostname as CIDR",
			doc:  "server:\n  trusted_proxies: [proxy.internal]\n" + usersLine,
			want: []string{`gateway.yaml:2: server.trusted_proxies[0]: invalid CIDR "proxy.internal"`},
		},
		{
			name: "yes is not a boolean",
			doc:  "cookies:\n  secure: yes\n" + usersLine,
			want: []string{`gateway.yaml:2: cookies.secure: invalid boolean "yes"`},
		},
		{
			name: "duplicate key",
			doc:  "log:\n  level: info\n  level: debug\n" + usersLine,
			want: []string{"gateway.yaml:3: log.level: duplicate key (first set at line 2)"},
		},
		{
			name: "uint8 out of range",
			doc:  "users:\n  file: users.yaml\n  argon2:\n    max_parallelism: 300\n",
			want: []string{`gateway.yaml:4: users.argon2.max_parallelism: invalid non-negative integer "300": out of range`},
		},
		{
			name: "negative for unsigned",
			doc:  "users:\n  file: users.yaml\n  argon2:\n    max_iterations: -1\n",
			want: []string{`gateway.yaml:4: users.argon2.max_iterations: invalid non-negative integer "-1"`},
		},
		{
			name: "int overflow",
			doc:  "sessions:\n  max_per_user: 99999999999999999999\n" + usersLine,
			want: []string{`gateway.yaml:2: sessions.max_per_user: invalid integer "99999999999999999999": out of range`},
		},
		{
			name: "syntax error",
			doc:  "server:\n\tlisten: x\n",
			want: []string{"gateway.yaml:2: found character that cannot start any token"},
		},
		{
			name: "two documents",
			doc:  "log: {level: info}\n---\nlog: {level: info}\n",
			want: []string{"gateway.yaml:2: more than one YAML document"},
		},
		{
			name: "list at the top level",
			doc:  "- a\n",
			want: []string{"gateway.yaml:1: expected a mapping at the top level, got a list"},
		},
		{
			name: "empty list element",
			doc:  "headers:\n  strip:\n    - X-A\n    -\n" + usersLine,
			want: []string{"gateway.yaml:4: headers.strip[1]: empty list element"},
		},
		{
			name: "non-string mapping key",
			doc:  "server:\n  [a]: 1\n" + usersLine,
			want: []string{"gateway.yaml:2: server: a mapping key must be a plain string"},
		},
		{
			name: "self-referencing merge",
			doc:  "server: &s\n  <<: *s\n" + usersLine,
			want: []string{"gateway.yaml:2: server: alias *s refers to itself"},
		},
		{
			name: "several problems reported at once in line order",
			doc: "log:\n  level: loud\n" +
				"server:\n  listen: nope\n  idle_timeout: soon\n" + usersLine,
			want: []string{
				`gateway.yaml:2: log.level: unknown level "loud"`,
				"gateway.yaml:4: server.listen: want host:port",
				`gateway.yaml:5: server.idle_timeout: invalid duration "soon"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := loadDoc(t, tt.doc, nil)
			checkProblems(t, got, tt.want)
		})
	}
}

func TestLoadAliasBombIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("routes:\n  - &r0 {name: a, upstream: \"echo:\"}\n")
	for i := 1; i <= 60; i++ {
		b.WriteString("  - &r" + strconv.Itoa(i) + " {<<: [*r" + strconv.Itoa(i-1) + ", *r" + strconv.Itoa(i-1) + "]}\n")
	}
	b.WriteString(usersLine)
	_, got := loadDoc(t, b.String(), nil)
	found := false
	for _, p := range got {
		found = found || strings.Contains(p, "document too large")
	}
	if !found {
		t.Errorf("alias bomb: problems %q, want one saying the document is too large", got)
	}
}

func TestLoadMergeKeys(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "routes:\n"+
		"  - &base\n"+
		"    name: a\n"+
		"    path_prefix: /a\n"+
		"    upstream: http://backend:8000\n"+
		"    timeout: 5s\n"+
		"  - <<: *base\n"+
		"    name: b\n"+
		"    path_prefix: /b\n"+
		usersLine, nil)
	b := c.Routes[1]
	if b.Name != "b" || b.PathPrefix != "/b" || b.Upstream != "http://backend:8000" || b.Timeout != 5*time.Second {
		t.Errorf("merged route = %+v, want name b, /b, upstream and timeout from the anchor", b)
	}
}

func TestLoadNullKeepsDefault(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, "server:\n  listen:\n  auth_prefix: ~\ntokens:\n"+usersLine, nil)
	if c.Server.Listen != ":8080" || c.Server.AuthPrefix != "/auth" || c.Tokens.Issuer != "portcullis" {
		t.Errorf("empty values: listen %q auth_prefix %q issuer %q, want the defaults", c.Server.Listen, c.Server.AuthPrefix, c.Tokens.Issuer)
	}
}

func TestLoadEmptyDocument(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"", "# only a comment\n", "~\n"} {
		_, got := loadDoc(t, doc, nil)
		checkProblems(t, got, []string{"gateway.yaml: users.file: required"})
	}
}

func TestLoadDeepNesting(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		"server: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
		"server: " + strings.Repeat("{a: ", 20000) + "1" + strings.Repeat("}", 20000) + "\n",
		strings.Repeat("a:\n ", 5000) + "b\n",
	} {
		if _, got := loadDoc(t, doc+usersLine, nil); len(got) == 0 {
			t.Errorf("deeply nested document (%d bytes) loaded without error", len(doc))
		}
	}
}
