package config

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SET": "value", "EMPTY": "", "REF": "${SET}", "DOLLAR": "$"}
	tests := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "${SET}", want: "value"},
		{in: "a-${SET}-b", want: "a-value-b"},
		{in: "${SET}${SET}", want: "valuevalue"},
		{in: "${UNSET}", err: "environment variable UNSET is not set"},
		{in: "${EMPTY}", err: "environment variable EMPTY is empty"},
		{in: "${UNSET:-fallback}", want: "fallback"},
		{in: "${EMPTY:-fallback}", want: "fallback"},
		{in: "${SET:-fallback}", want: "value"},
		{in: "${UNSET:-}", want: ""},
		{in: "${EMPTY:-}", want: ""},
		{in: "${UNSET:-a:-b}", want: "a:-b"},
		{in: "$${SET}", want: "${SET}"},
		{in: "x$${", want: "x${"},
		{in: "$$${SET}", want: "$${SET}"}, // left to right: "$", then the escape
		{in: "$SET", want: "$SET"},
		{in: "cost: $5", want: "cost: $5"},
		{in: "${REF}", want: "${SET}"},         // expanded values are not expanded again
		{in: "${UNSET:-${SET}", want: "${SET"}, // defaults are literal, up to the first }
		{in: "${SET", err: "unterminated ${"},
		{in: "${}", err: "invalid environment reference ${}"},
		{in: "${1ABC}", err: "invalid environment reference ${1ABC}"},
		{in: "${A-B}", err: "invalid environment reference ${A-B}"},
		{in: "${SET:?x}", err: "invalid environment reference"},
		{in: "${DOLLAR}{SET}", want: "${SET}"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := expand(tt.in, mapLookup(env))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("expand(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestLoadEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		doc   string
		env   map[string]string
		check func(*Config) bool
		want  []string // problems; nil = must load
	}{
		{
			name:  "string value",
			doc:   "tokens:\n  audience: ${AUD}\n",
			env:   map[string]string{"AUD": "apps"},
			check: func(c *Config) bool { return c.Tokens.Audience == "apps" },
		},
		{
			name: "unset",
			doc:  "tokens:\n  audience: ${AUD}\n",
			want: []string{"gateway.yaml:2: tokens.audience: environment variable AUD is not set"},
		},
		{
			name: "empty",
			doc:  "tokens:\n  audience: ${AUD}\n",
			env:  map[string]string{"AUD": ""},
			want: []string{"gateway.yaml:2: tokens.audience: environment variable AUD is empty"},
		},
		{
			name:  "default",
			doc:   "tokens:\n  audience: ${AUD:-apps}\n",
			check: func(c *Config) bool { return c.Tokens.Audience == "apps" },
		},
		{
			name:  "opt into empty",
			doc:   "cookies:\n  domain: ${DOMAIN:-}\n",
			check: func(c *Config) bool { return c.Cookies.Domain == "" && c.Cookies.AccessName == "__Host-portcullis_at" },
		},
		{
			name:  "literal ${",
			doc:   "tokens:\n  audience: \"a$${b}\"\n",
			check: func(c *Config) bool { return c.Tokens.Audience == "a${b}" },
		},
		{
			name: "integer, duration and boolean",
			doc:  "sessions:\n  max_per_user: ${N}\n  idle_timeout: ${T}\nlog:\n  access_log: ${B}\n",
			env:  map[string]string{"N": "0", "T": "2h", "B": "false"},
			check: func(c *Config) bool {
				return c.Sessions.MaxPerUser == 0 && c.Sessions.IdleTimeout == 2*time.Hour && !c.Log.AccessLog
			},
		},
		{
			name: "expanded text must fit the type",
			doc:  "sessions:\n  max_per_user: ${N}\n",
			env:  map[string]string{"N": "s3cr3t"},
			want: []string{`gateway.yaml:2: sessions.max_per_user: invalid integer "${N}" (after environment expansion)`},
		},
		{
			name: "list elements and nested routes",
			doc:  "server:\n  trusted_proxies: [\"${LB}\"]\nroutes:\n  - name: r\n    upstream: ${UP}\n",
			env:  map[string]string{"LB": "10.0.0.0/8", "UP": "http://backend:8000"},
			check: func(c *Config) bool {
				return len(c.Server.TrustedProxies) == 1 && c.Server.TrustedProxies[0].String() == "10.0.0.0/8" &&
					c.Routes[0].Upstream == "http://backend:8000"
			},
		},
		{
			name: "keys are never expanded",
			doc:  "${SECTION}:\n  level: debug\n",
			env:  map[string]string{"SECTION": "log"},
			want: []string{"gateway.yaml:1: ${SECTION}: unknown key"},
		},
		{
			name:  "secrets",
			doc:   "admin:\n  token: ${ADMIN_TOKEN}\n",
			env:   map[string]string{"ADMIN_TOKEN": strings.Repeat("t", 32)},
			check: func(c *Config) bool { return c.Admin.Token.Reveal() == strings.Repeat("t", 32) },
		},
		{
			name:  "file paths",
			doc:   "tokens:\n  keys:\n    - id: k\n      alg: HS256\n      secret_file: ${SECRET_FILE}\n",
			env:   map[string]string{"SECRET_FILE": "hmac-secret"},
			check: func(c *Config) bool { return c.Tokens.Keys[0].Secret.Reveal() == strings.Repeat("s", 32) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, got := loadDoc(t, tt.doc+usersLine, tt.env)
			checkProblems(t, got, tt.want)
			for _, p := range got {
				for _, v := range tt.env {
					if len(v) > 3 && strings.Contains(p, v) {
						t.Errorf("problem %q reveals the environment value %q", p, v)
					}
				}
			}
			if tt.check != nil && (c == nil || !tt.check(c)) {
				t.Errorf("loaded config does not hold the expanded values: %+v", c)
			}
		})
	}
}

// TestLoadReadsProcessEnvironment covers Load itself, which uses os.LookupEnv.
func TestLoadReadsProcessEnvironment(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "from-the-environment")
	c, err := Load("testdata/production.yaml")
	if err != nil {
		t.Fatalf("Load(production.yaml) = %v", err)
	}
	if c.Sessions.Redis.Password.Reveal() != "from-the-environment" {
		t.Errorf("redis password not taken from the environment")
	}
}
