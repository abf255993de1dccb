package config

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// hsKeys is a tokens section with one valid HMAC key (lines 1–2).
const hsKeys = "tokens:\n  keys: [{id: k, alg: HS256, secret_file: hmac-secret}]\n"

func TestLoadValidationErrors(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string {
		return "base64:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", n)))
	}
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		// server, metrics, admin
		{"listen without port", "server:\n  listen: \"8080\"\n" + usersLine,
			[]string{"gateway.yaml:2: server.listen: want host:port"}},
		{"listen port out of range", "server:\n  listen: \":99999\"\n" + usersLine,
			[]string{`gateway.yaml:2: server.listen: invalid port "99999"`}},
		{"listen bad host", "server:\n  listen: \"bad host:80\"\n" + usersLine,
			[]string{`gateway.yaml:2: server.listen: invalid host "bad host"`}},
		{"metrics listen empty", "metrics:\n  listen: \"\"\n" + usersLine,
			[]string{"gateway.yaml:2: metrics.listen: required"}},
		{"metrics on the proxy address", "metrics:\n  listen: \":8080\"\n" + usersLine,
			[]string{"gateway.yaml:2: metrics.listen: same address as server.listen"}},
		{"admin listen checked when admin is on", "admin:\n  listen: nope\n  token_file: admin-token\n" + usersLine,
			[]string{"gateway.yaml:2: admin.listen: want host:port"}},
		{"admin on the metrics address", "admin:\n  listen: \":9464\"\n  token_file: admin-token\n" + usersLine,
			[]string{"gateway.yaml:2: admin.listen: same address as metrics.listen"}},
		{"admin token too short", "admin:\n  token: short\n" + usersLine,
			[]string{"gateway.yaml:2: admin.token: must be at least 32 bytes"}},
		{"admin token file too short", "admin:\n  token_file: short-token\n" + usersLine,
			[]string{"gateway.yaml:2: admin.token_file: must be at least 32 bytes"}},
		{"server tls cert without key", "server:\n  tls:\n    cert_file: key.pem\n" + usersLine,
			[]string{"gateway.yaml:2: server.tls.key_file: required when cert_file is set"}},
		{"server tls key without cert", "server:\n  tls:\n    key_file: key.pem\n" + usersLine,
			[]string{"gateway.yaml:2: server.tls.cert_file: required when key_file is set"}},
		{"server non-positive values", "server:\n  read_header_timeout: 0s\n  idle_timeout: -1s\n  max_header_bytes: 0\n  shutdown_delay: -1s\n  shutdown_timeout: 0s\n" + usersLine,
			[]string{
				"gateway.yaml:2: server.read_header_timeout: must be positive",
				"gateway.yaml:3: server.idle_timeout: must be positive",
				"gateway.yaml:4: server.max_header_bytes: must be positive",
				"gateway.yaml:5: server.shutdown_delay: must not be negative",
				"gateway.yaml:6: server.shutdown_timeout: must be positive",
			}},
		{"auth_prefix relative", "server:\n  auth_prefix: auth\n" + usersLine,
			[]string{`gateway.yaml:2: server.auth_prefix: must start with "/"`}},
		{"auth_prefix root", "server:\n  auth_prefix: /\n" + usersLine,
			[]string{`gateway.yaml:2: server.auth_prefix: must not be "/"`}},
		{"auth_prefix trailing slash", "server:\n  auth_prefix: /auth/\n" + usersLine,
			[]string{`gateway.yaml:2: server.auth_prefix: must not end with "/"`}},
		{"auth_prefix double slash", "server:\n  auth_prefix: /a//b\n" + usersLine,
			[]string{`gateway.yaml:2: server.auth_prefix: must not contain "//"`}},
		{"auth_prefix dot segment", "server:\n  auth_prefix: /a/../b\n" + usersLine,
			[]string{`gateway.yaml:2: server.auth_prefix: must not contain "." or ".." segments`}},
		{"auth_prefix percent", "server:\n  auth_prefix: /a%2fb\n" + usersLine,
			[]string{"gateway.yaml:2: server.auth_prefix: must not contain %-escapes"}},

		// tokens
		{"tokens basics", "tokens:\n  issuer: \"\"\n  audience: \"\"\n  access_ttl: 0s\n  leeway: 31s\n" + usersLine,
			[]string{
				"gateway.yaml:2: tokens.issuer: required",
				"gateway.yaml:3: tokens.audience: required",
				"gateway.yaml:4: tokens.access_ttl: must be positive",
				"gateway.yaml:5: tokens.leeway: must be between 0s and 30s",
			}},
		{"negative leeway", "tokens:\n  leeway: -1s\n" + usersLine,
			[]string{"gateway.yaml:2: tokens.leeway: must be between 0s and 30s"}},
		{"key ids and algs", "tokens:\n  keys:\n" +
			"    - alg: HS256\n      secret_file: hmac-secret\n" +
			"    - id: a\n      alg: HS256\n      secret_file: hmac-secret\n" +
			"    - id: a\n      alg: RS512\n      private_key_file: key.pem\n" +
			"    - id: c\n      private_key_file: key.pem\n" + usersLine,
			[]string{
				"gateway.yaml:3: tokens.keys[0].id: required",
				`gateway.yaml:8: tokens.keys[2].id: duplicate id "a" (also tokens.keys[1])`,
				`gateway.yaml:9: tokens.keys[2].alg: unsupported algorithm "RS512"`,
				"gateway.yaml:11: tokens.keys[3].alg: required",
			}},
		{"key material", "tokens:\n  keys:\n" +
			"    - id: none\n      alg: HS256\n" +
			"    - id: two\n      alg: EdDSA\n      private_key_file: key.pem\n      public_key_file: key.pem\n" +
			"    - id: hs-pem\n      alg: HS256\n      private_key_file: key.pem\n" +
			"    - id: ed-secret\n      alg: EdDSA\n      secret: " + strings.Repeat("x", 40) + "\n" + usersLine,
			[]string{
				"gateway.yaml:3: tokens.keys[0]: no key material",
				"gateway.yaml:5: tokens.keys[1]: set only one of secret, secret_file, private_key_file, public_key_file",
				"gateway.yaml:9: tokens.keys[2]: HS256 needs secret or secret_file",
				"gateway.yaml:14: tokens.keys[3].secret: EdDSA takes private_key_file or public_key_file, not a secret",
			}},
		{"hmac secrets", "tokens:\n  keys:\n" +
			"    - id: short\n      alg: HS256\n      secret: tooshort\n" +
			"    - id: b64bad\n      alg: HS384\n      secret: \"base64:!!!not-base64\"\n" +
			"    - id: b64short\n      alg: HS512\n      secret: \"" + b64(31) + "\"\n" +
			"    - id: b64ok\n      alg: HS256\n      secret: \"" + b64(32) + "\"\n" +
			"    - id: rawok\n      alg: HS256\n      secret: \"" + strings.Repeat("r", 32) + "\"\n" + usersLine,
			[]string{
				"gateway.yaml:5: tokens.keys[0].secret: secret must be at least 32 bytes",
				`gateway.yaml:8: tokens.keys[1].secret: invalid base64 after "base64:"`,
				"gateway.yaml:11: tokens.keys[2].secret: secret must be at least 32 bytes",
			}},
		{"only public keys cannot sign", "tokens:\n  keys:\n    - id: p\n      alg: ES256\n      public_key_file: key.pem\n" + usersLine,
			[]string{"gateway.yaml:2: tokens.keys: no key can sign"}},
		{"redis store needs keys", "sessions:\n  store: redis\n  redis:\n    addrs: [\"redis:6379\"]\n" + usersLine,
			[]string{"gateway.yaml: tokens.keys: required with sessions.store redis"}},
		{"assertion with HMAC keys only", hsKeys + "headers:\n  assertion: X-Auth-Assertion\n" + usersLine,
			[]string{"gateway.yaml:4: headers.assertion: needs an asymmetric signing key"}},

		// sessions
		{"sessions values", "sessions:\n  store: disk\n  max_per_user: -1\n  idle_timeout: 0s\n  absolute_lifetime: 0s\n  touch_interval: 0s\n  refresh_grace: -1s\n" + usersLine,
			[]string{
				`gateway.yaml:2: sessions.store: unknown store "disk"`,
				"gateway.yaml:3: sessions.max_per_user: must not be negative",
				"gateway.yaml:4: sessions.idle_timeout: must be positive",
				"gateway.yaml:5: sessions.absolute_lifetime: must be positive",
				"gateway.yaml:6: sessions.touch_interval: must be positive",
				"gateway.yaml:7: sessions.refresh_grace: must not be negative",
			}},
		{"touch interval not below idle timeout", "sessions:\n  idle_timeout: 1m\n  touch_interval: 1m\n" + usersLine,
			[]string{"gateway.yaml:3: sessions.touch_interval: must be shorter than sessions.idle_timeout"}},
		{"redis values", hsKeys + "sessions:\n  store: redis\n  redis:\n" +
			"    mode: primary\n    db: -1\n    key_prefix: \"app:{x}:\"\n    dial_timeout: 0s\n    read_timeout: 0s\n    write_timeout: 0s\n    pool_size: 0\n" +
			"    tls:\n      cert_file: key.pem\n" + usersLine,
			[]string{
				"gateway.yaml:5: sessions.redis.addrs: required with sessions.store redis",
				`gateway.yaml:6: sessions.redis.mode: unknown mode "primary"`,
				"gateway.yaml:7: sessions.redis.db: must not be negative",
				"gateway.yaml:8: sessions.redis.key_prefix: must not contain { or }",
				"gateway.yaml:9: sessions.redis.dial_timeout: must be positive",
				"gateway.yaml:10: sessions.redis.read_timeout: must be positive",
				"gateway.yaml:11: sessions.redis.write_timeout: must be positive",
				"gateway.yaml:12: sessions.redis.pool_size: must be positive",
				"gateway.yaml:13: sessions.redis.tls.enabled: must be true when other tls settings are given",
				"gateway.yaml:13: sessions.redis.tls.key_file: required when cert_file is set",
			}},
		{"standalone with several addrs", hsKeys + "sessions:\n  store: redis\n  redis:\n    addrs: [\"a:6379\", \"b:6379\"]\n" + usersLine,
			[]string{"gateway.yaml:6: sessions.redis.addrs: mode standalone takes one address"}},
		{"bad redis addr", hsKeys + "sessions:\n  store: redis\n  redis:\n    addrs:\n      - redis\n" + usersLine,
			[]string{"gateway.yaml:7: sessions.redis.addrs[0]: want host:port"}},
		{"sentinel needs master_name", hsKeys + "sessions:\n  store: redis\n  redis:\n    mode: sentinel\n    addrs: [\"s1:26379\", \"s2:26379\"]\n" + usersLine,
			[]string{"gateway.yaml:5: sessions.redis.master_name: required with mode sentinel"}},
		{"cluster with a db", hsKeys + "sessions:\n  store: redis\n  redis:\n    mode: cluster\n    addrs: [\"c1:6379\"]\n    db: 1\n" + usersLine,
			[]string{"gateway.yaml:8: sessions.redis.db: must be 0 with mode cluster"}},
		{"cache with the memory store", "sessions:\n  cache:\n    enabled: true\n    max_staleness: 31s\n" + usersLine,
			[]string{
				"gateway.yaml:3: sessions.cache.enabled: a cache needs sessions.store redis",
				"gateway.yaml:4: sessions.cache.max_staleness: must be above 0s and at most 30s",
			}},
		{"zero max_staleness", "sessions:\n  cache:\n    max_staleness: 0s\n" + usersLine,
			[]string{"gateway.yaml:3: sessions.cache.max_staleness: must be above 0s and at most 30s"}},

		// users
		{"users section without file", "users:\n  argon2:\n    max_memory_kib: 0\n    max_iterations: 0\n    max_parallelism: 0\n",
			[]string{
				"gateway.yaml:1: users.file: required",
				"gateway.yaml:3: users.argon2.max_memory_kib: must be positive",
				"gateway.yaml:4: users.argon2.max_iterations: must be positive",
				"gateway.yaml:5: users.argon2.max_parallelism: must be positive",
			}},
		{"users file missing on disk", "users:\n  file: nope.yaml\n",
			[]string{"gateway.yaml:2: users.file: nope.yaml: no such file or directory"}},
		{"users file is a directory", "users:\n  file: .\n",
			[]string{"gateway.yaml:2: users.file: "}},

		// cookies
		{"same_site is case-sensitive", "cookies:\n  same_site: Lax\n" + usersLine,
			[]string{`gateway.yaml:2: cookies.same_site: unknown value "Lax"`}},
		{"same_site none needs secure", "cookies:\n  secure: false\n  same_site: none\n" + usersLine,
			[]string{"gateway.yaml:3: cookies.same_site: none requires cookies.secure: true"}},
		{"cookie name not a token", "cookies:\n  access_name: \"a b\"\n" + usersLine,
			[]string{`gateway.yaml:2: cookies.access_name: invalid cookie name "a b"`}},
		{"cookie names equal", "cookies:\n  access_name: sid\n  refresh_name: sid\n" + usersLine,
			[]string{"gateway.yaml:3: cookies.refresh_name: must differ from cookies.access_name"}},
		{"__Host- with a domain", "cookies:\n  domain: example.com\n  access_name: __Host-at\n" + usersLine,
			[]string{"gateway.yaml:3: cookies.access_name: a __Host- cookie cannot be used with cookies.domain"}},
		{"__Host- without secure", "cookies:\n  secure: false\n  access_name: __Host-at\n" + usersLine,
			[]string{"gateway.yaml:3: cookies.access_name: a __Host- cookie requires cookies.secure: true"}},
		{"__Secure- without secure", "cookies:\n  secure: false\n  refresh_name: __secure-rt\n" + usersLine,
			[]string{"gateway.yaml:3: cookies.refresh_name: a __Secure- cookie requires cookies.secure: true"}},
		{"refresh cookie cannot be __Host-", "cookies:\n  refresh_name: __Host-rt\n" + usersLine,
			[]string{"gateway.yaml:2: cookies.refresh_name: a __Host- cookie requires Path=/"}},
		{"invalid cookie domain", "cookies:\n  domain: \"exa mple.com\"\n" + usersLine,
			[]string{`gateway.yaml:2: cookies.domain: invalid domain "exa mple.com"`}},

		// login
		{"login values", "login:\n  allowed_redirect_hosts:\n" +
			"    - app.example.com\n    - \"*.example.com\"\n    - \"app.example.com:99999\"\n    - .example.com\n    - App.Example.COM.\n    - \"http://x\"\n" +
			"  trusted_origins:\n" +
			"    - https://ok.example.com\n    - https://ok.example.com/\n    - ok.example.com\n    - ftp://x.example.com\n    - https://x.example.com?q\n    - https://u@x.example.com\n" +
			"  rate_limit:\n    per_user: -1\n    per_ip: -1\n    window: 0s\n" + usersLine,
			[]string{
				`gateway.yaml:4: login.allowed_redirect_hosts[1]: wildcards are written ".example.com"`,
				`gateway.yaml:5: login.allowed_redirect_hosts[2]: invalid port in "app.example.com:99999"`,
				`gateway.yaml:8: login.allowed_redirect_hosts[5]: invalid entry "http://x"`,
				"gateway.yaml:11: login.trusted_origins[1]: want an origin",
				"gateway.yaml:12: login.trusted_origins[2]: want an origin",
				"gateway.yaml:13: login.trusted_origins[3]: scheme must be http or https",
				"gateway.yaml:14: login.trusted_origins[4]: want an origin",
				"gateway.yaml:15: login.trusted_origins[5]: want an origin",
				"gateway.yaml:17: login.rate_limit.per_user: must not be negative",
				"gateway.yaml:18: login.rate_limit.per_ip: must not be negative",
				"gateway.yaml:19: login.rate_limit.window: must be positive",
			}},

		// headers
		{"header names", "headers:\n  user: \"X Auth\"\n  roles: X-Auth-Session\n  assertion: Cookie\n  strip: [\"X-Ok\", \"bad header\"]\n" + usersLine,
			[]string{
				"gateway.yaml:1: headers.session: same header as headers.roles",
				`gateway.yaml:2: headers.user: invalid header name "X Auth"`,
				`gateway.yaml:4: headers.assertion: "Cookie" is reserved`,
				`gateway.yaml:5: headers.strip[1]: invalid header name "bad header"`,
			}},
		{"header names equal after folding", "headers:\n  user: x_auth_roles\n" + usersLine,
			[]string{"gateway.yaml:1: headers.roles: same header as headers.user"}},
		{"empty identity header", "headers:\n  user: \"\"\n" + usersLine,
			[]string{"gateway.yaml:2: headers.user: required"}},

		// routes
		{"route names", "routes:\n" +
			"  - upstream: \"echo:\"\n    path_prefix: /zero\n" +
			"  - name: Bad.Name\n    upstream: \"echo:\"\n    path_prefix: /one\n" +
			"  - name: dup\n    upstream: \"echo:\"\n    path_prefix: /two\n" +
			"  - name: dup\n    upstream: \"echo:\"\n    path_prefix: /three\n" + usersLine,
			[]string{
				"gateway.yaml:2: routes[0].name: required",
				`gateway.yaml:4: routes[1].name: invalid name "Bad.Name"`,
				`gateway.yaml:10: routes[3].name: duplicate name "dup" (also routes[2])`,
			}},
		{"route hosts", "routes:\n" +
			"  - name: a\n    host: \"exa_mple..com\"\n    upstream: \"echo:\"\n" +
			"  - name: b\n    host: \"example.com:8080\"\n    upstream: \"echo:\"\n" +
			"  - name: c\n    host: \"*.Example.COM.\"\n    upstream: \"echo:\"\n" +
			"  - name: d\n    host: \"*\"\n    upstream: \"echo:\"\n" + usersLine,
			[]string{
				`gateway.yaml:3: routes[0].host: invalid host "exa_mple..com"`,
				`gateway.yaml:6: routes[1].host: invalid host "example.com:8080": no port`,
				`gateway.yaml:12: routes[3].host: invalid host "*"`,
			}},
		{"route under auth_prefix", "routes:\n  - name: a\n    path_prefix: /auth\n    upstream: \"echo:\"\n" +
			"  - name: b\n    path_prefix: /auth/x\n    upstream: \"echo:\"\n" +
			"  - name: c\n    path_prefix: /authx\n    upstream: \"echo:\"\n" +
			"  - name: d\n    path_prefix: /.well-known/jwks.json\n    upstream: \"echo:\"\n" + usersLine,
			[]string{
				`gateway.yaml:3: routes[0].path_prefix: "/auth" is at or under server.auth_prefix "/auth"`,
				`gateway.yaml:6: routes[1].path_prefix: "/auth/x" is at or under server.auth_prefix "/auth"`,
				`gateway.yaml:12: routes[3].path_prefix: "/.well-known/jwks.json" is a gateway endpoint`,
			}},
		{"route under a custom auth_prefix", "server:\n  auth_prefix: /_gw\nroutes:\n  - name: a\n    path_prefix: /_gw/login\n    upstream: \"echo:\"\n" +
			"  - name: b\n    path_prefix: /auth\n    upstream: \"echo:\"\n" + usersLine,
			[]string{`gateway.yaml:5: routes[0].path_prefix: "/_gw/login" is at or under server.auth_prefix "/_gw"`}},
		{"route methods", "routes:\n  - name: a\n    upstream: \"echo:\"\n    methods: [get, \"PO ST\"]\n" + usersLine,
			[]string{`gateway.yaml:4: routes[0].methods[1]: invalid method "PO ST"`}},
		{"route auth and roles", "routes:\n" +
			"  - name: a\n    path_prefix: /a\n    upstream: \"echo:\"\n    auth: maybe\n" +
			"  - name: b\n    path_prefix: /b\n    upstream: \"echo:\"\n    roles: [ok, \"bad role\"]\n" +
			"  - name: c\n    path_prefix: /c\n    upstream: \"echo:\"\n    auth: public\n    roles: [staff]\n" +
			"  - name: d\n    path_prefix: /d\n    upstream: \"echo:\"\n    timeout: 0s\n" + usersLine,
			[]string{
				`gateway.yaml:5: routes[0].auth: unknown value "maybe"`,
				`gateway.yaml:9: routes[1].roles[1]: invalid role "bad role"`,
				"gateway.yaml:14: routes[2].roles: a public route cannot require roles",
				"gateway.yaml:18: routes[3].timeout: must be positive",
			}},
		{"route tls", "routes:\n" +
			"  - name: a\n    path_prefix: /a\n    upstream: https://b:8443\n    tls:\n      cert_file: key.pem\n" +
			"  - name: b\n    path_prefix: /b\n    upstream: http://b:8000\n    tls:\n      server_name: b.internal\n" +
			"  - name: c\n    path_prefix: /c\n    upstream: \"echo:\"\n    tls:\n      insecure_skip_verify: true\n" +
			"  - name: d\n    path_prefix: /d\n    upstream: https://b:8443\n    tls:\n      ca_file: key.pem\n      server_name: b.internal\n" + usersLine,
			[]string{
				"gateway.yaml:5: routes[0].tls.key_file: required when cert_file is set",
				"gateway.yaml:10: routes[1].tls: only applies to an https upstream",
				"gateway.yaml:15: routes[2].tls: only applies to an https upstream",
			}},
		{"route upgrades: h2c in any case, non-tokens", "routes:\n" +
			"  - name: a\n    upstream: \"echo:\"\n    upgrades: [websocket, h2c]\n" +
			"  - name: b\n    path_prefix: /b\n    upstream: \"echo:\"\n    upgrades: [H2C]\n" +
			"  - name: c\n    path_prefix: /c\n    upstream: \"echo:\"\n    upgrades: [\"h2c/1\", \"\", \"web socket\"]\n" + usersLine,
			[]string{
				"gateway.yaml:4: routes[0].upgrades[1]: h2c can never be allowed",
				"gateway.yaml:8: routes[1].upgrades[0]: h2c can never be allowed",
				`gateway.yaml:12: routes[2].upgrades[0]: invalid protocol name "h2c/1"`,
				`gateway.yaml:12: routes[2].upgrades[1]: invalid protocol name ""`,
				`gateway.yaml:12: routes[2].upgrades[2]: invalid protocol name "web socket"`,
			}},
		{"endpoint_body_timeout not positive", "server:\n  endpoint_body_timeout: 0s\n" + usersLine,
			[]string{"gateway.yaml:2: server.endpoint_body_timeout: must be positive"}},
		{"route precedence ties", "routes:\n" +
			"  - name: a\n    path_prefix: /api\n    upstream: \"echo:\"\n" +
			"  - name: b\n    path_prefix: /api\n    upstream: \"echo:\"\n" +
			"  - name: c\n    path_prefix: /api\n    methods: [GET, POST]\n    upstream: \"echo:\"\n" +
			"  - name: d\n    path_prefix: /api\n    methods: [post]\n    upstream: \"echo:\"\n" +
			"  - name: e\n    path_prefix: /api\n    methods: [DELETE]\n    upstream: \"echo:\"\n" +
			"  - name: f\n    host: example.com\n    path_prefix: /api\n    upstream: \"echo:\"\n" +
			"  - name: g\n    host: Example.com.\n    path_prefix: /api\n    upstream: \"echo:\"\n" + usersLine,
			[]string{
				`gateway.yaml:5: routes[1]: route "b" ties with route "a" (routes[0])`,
				`gateway.yaml:12: routes[3]: route "d" ties with route "c" (routes[2])`,
				`gateway.yaml:24: routes[6]: route "g" ties with route "f" (routes[5])`,
			}},

		// server.path_matching
		{"path_matching value", "server:\n  path_matching: CASE_INSENSITIVE\n" + usersLine,
			[]string{`gateway.yaml:2: server.path_matching: unknown value "CASE_INSENSITIVE": want exact or case_insensitive`}},
		{"case_insensitive prefixes", "server:\n  path_matching: case_insensitive\n  auth_prefix: /gw.\nroutes:\n" +
			"  - name: a\n    path_prefix: /admin.\n    upstream: \"echo:\"\n" +
			"  - name: b\n    path_prefix: /a:b\n    upstream: \"echo:\"\n" +
			"  - name: c\n    path_prefix: /PROGRA~1\n    upstream: \"echo:\"\n" +
			"  - name: d\n    path_prefix: /Api\n    upstream: \"echo:\"\n" +
			"  - name: e\n    path_prefix: /api\n    upstream: \"echo:\"\n" +
			"  - name: f\n    path_prefix: /GW./x\n    upstream: \"echo:\"\n" +
			"  - name: g\n    path_prefix: /.WELL-KNOWN/jwks.json\n    upstream: \"echo:\"\n" + usersLine,
			[]string{
				`gateway.yaml:3: server.auth_prefix: must not end a segment with a dot or space`,
				`gateway.yaml:6: routes[0].path_prefix: must not end a segment with a dot or space`,
				`gateway.yaml:9: routes[1].path_prefix: must not contain ":" or "~" followed by a digit`,
				`gateway.yaml:12: routes[2].path_prefix: must not contain ":" or "~" followed by a digit`,
				`gateway.yaml:17: routes[4]: route "e" ties with route "d" (routes[3])`,
				`gateway.yaml:21: routes[5].path_prefix: must not end a segment with a dot or space`,
				`gateway.yaml:24: routes[6].path_prefix: "/.WELL-KNOWN/jwks.json" is a gateway endpoint`,
			}},
		{"exact prefixes differ by case", "server:\n  path_matching: exact\nroutes:\n" +
			"  - name: d\n    path_prefix: /Api\n    upstream: \"echo:\"\n" +
			"  - name: e\n    path_prefix: /api\n    upstream: \"echo:\"\n" + usersLine, nil},

		// log
		{"log values", "log:\n  level: verbose\n  format: xml\n" + usersLine,
			[]string{
				`gateway.yaml:2: log.level: unknown level "verbose"`,
				`gateway.yaml:3: log.format: unknown format "xml"`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, got := loadDoc(t, tt.doc, nil)
			checkProblems(t, got, tt.want)
		})
	}
}

func TestLoadAssertionKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		keys string
		ok   bool
	}{
		{"no keys: ephemeral Ed25519", "", true},
		{"HMAC only", "    - {id: h, alg: HS256, secret_file: hmac-secret}\n", false},
		{"HMAC signer and a public key", "    - {id: h, alg: HS256, secret_file: hmac-secret}\n    - {id: p, alg: EdDSA, public_key_file: key.pem}\n", false},
		{"HMAC signer and an Ed25519 private key", "    - {id: h, alg: HS256, secret_file: hmac-secret}\n    - {id: e, alg: EdDSA, private_key_file: key.pem}\n", true},
		{"RSA private key", "    - {id: r, alg: RS256, private_key_file: key.pem}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := "headers:\n  assertion: X-Auth-Assertion\n"
			if tt.keys != "" {
				doc += "tokens:\n  keys:\n" + tt.keys
			}
			_, got := loadDoc(t, doc+usersLine, nil)
			if tt.ok {
				checkProblems(t, got, nil)
			} else {
				checkProblems(t, got, []string{"gateway.yaml:2: headers.assertion: needs an asymmetric signing key"})
			}
		})
	}
}

func TestLoadPathPrefixRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   string // message prefix; "" = valid
	}{
		{"/", ""},
		{"/api", ""},
		{"/api/v1", ""},
		{"/.well-known", ""},
		{"/café", ""},
		{"api", `must start with "/"`},
		{"/api/", `must not end with "/"`},
		{"/a//b", `must not contain "//"`},
		{"/a/./b", `must not contain "." or ".." segments`},
		{"/a/..", `must not contain "." or ".." segments`},
		{"/a/..;x/b", `must not contain "." or ".." segments`},
		{"/a%2Fb", "must not contain %-escapes"},
		{`/a\b`, `must not contain "\", "?" or "#"`},
		{"/a?b", `must not contain "\", "?" or "#"`},
		{"/a\tb", "must not contain control characters"},
		{"/api;v=1", `must not contain ";"`},
		{"/;x/api", `must not contain ";"`},
		{"/Admin.", ""}, // exact matching: a name like any other
		{"/a:b/~1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			t.Parallel()
			doc := "routes:\n  - name: r\n    path_prefix: \"" + strings.ReplaceAll(strings.ReplaceAll(tt.prefix, `\`, `\\`), "\t", `\t`) + "\"\n    upstream: \"echo:\"\n" + usersLine
			_, got := loadDoc(t, doc, nil)
			var want []string
			if tt.want != "" {
				want = []string{"gateway.yaml:3: routes[0].path_prefix: " + tt.want}
			}
			checkProblems(t, got, want)
		})
	}
}

func TestLoadUpstreamRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		upstream string
		want     string
	}{
		{"echo:", ""},
		{"http://backend:8000", ""},
		{"https://backend/base/path", ""},
		{"HTTP://Backend:8000", ""},
		{"", "required"},
		{"echo:x", "scheme must be http or https"},
		{"ftp://backend", "scheme must be http or https"},
		{"/relative", "scheme must be http or https"},
		{"http://", "URL needs a host"},
		{"http:backend", "URL needs a host"},
		{"http://:8000", "URL needs a host"},
		{"http://user:hunter2@backend", "URL must not carry userinfo"},
		{"http://backend/?q=1", "URL must not have a query or fragment"},
		{"http://backend/?", "URL must not have a query or fragment"},
		{"http://backend/#top", "URL must not have a query or fragment"},
		{"http://backend:99999", `invalid port "99999"`},
		{"http://back end", "invalid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.upstream, func(t *testing.T) {
			t.Parallel()
			doc := "routes:\n  - name: r\n    upstream: \"" + tt.upstream + "\"\n" + usersLine
			_, got := loadDoc(t, doc, nil)
			var want []string
			if tt.want != "" {
				want = []string{"gateway.yaml:3: routes[0].upstream: " + tt.want}
			}
			checkProblems(t, got, want)
			for _, p := range got {
				if strings.Contains(p, "hunter2") {
					t.Errorf("problem %q reveals the URL's password", p)
				}
			}
		})
	}
}

func TestValidateIsPureAndPathOnly(t *testing.T) {
	t.Parallel()
	c := Default()
	err := c.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Path != "users.file" || fe.File != "" || fe.Line != 0 {
		t.Fatalf("Default().Validate() = %v, want only users.file: required without file or line", err)
	}
	c.Users.File = "/nonexistent/users.yaml" // Validate does no I/O
	if err := c.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
	c.Routes = []Route{{Name: "x", Upstream: "echo:", PathPrefix: "/", Auth: AuthRequired, Timeout: 1, Host: "Example.com"}}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "routes[0].host: must be lower case") {
		t.Errorf("Validate(upper-case host) = %v, want a lower-case error", err)
	}
}
