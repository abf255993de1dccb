package gateway

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	uaChromeLinux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	uaSafariPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaFirefoxWin  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
)

func TestParseDevice(t *testing.T) {
	t.Parallel()
	long := "Mozilla/5.0 (Linux; Android 14; " + strings.Repeat("W", 5000) + ") AppleWebKit/537.36 Chrome/150.0 Mobile Safari/537.36"
	tests := []struct {
		ua, name, browser, os string
		mobile                bool
	}{
		{uaChromeLinux, "Chrome 156 on Linux", "Chrome 156", "Linux x86_64", false},
		{uaSafariPhone, "Safari on iPhone", "Safari 18", "iOS 18.1", true},
		{uaFirefoxWin, "Firefox 140 on Windows", "Firefox 140", "Windows 10.0", false},
		{"", "Unknown device", "", "", false},
		{"curl/8.5.0", "curl 8", "curl 8", "", false},
	}
	for _, tt := range tests {
		d := parseDevice(tt.ua)
		if d.name != tt.name || d.Browser != tt.browser || d.OS != tt.os || d.Mobile != tt.mobile {
			t.Errorf("parseDevice(%.40q) = %+v, want %q %q %q %v", tt.ua, d, tt.name, tt.browser, tt.os, tt.mobile)
		}
	}
	// Hostile: huge free-text device names and invalid UTF-8 stay short and valid.
	for _, ua := range []string{long, "\xff\xfe" + strings.Repeat("\x80", 300), strings.Repeat("<script>", 500)} {
		d := parseDevice(ua)
		for _, f := range []string{d.name, d.Browser, d.OS} {
			if len([]rune(f)) > 2*maxDeviceField+8 || strings.ContainsRune(f, '\x80') {
				t.Errorf("parseDevice(%.20q) field %.60q not clipped or invalid", ua, f)
			}
		}
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"}, {-time.Hour, "just now"}, {59 * time.Second, "just now"},
		{time.Minute, "1 minute ago"}, {3 * time.Minute, "3 minutes ago"}, {5 * time.Hour, "5 hours ago"},
		{49 * time.Hour, "2 days ago"}, {90 * 24 * time.Hour, "on 3 Sep 2026"},
	} {
		if got := ago(now, now.Add(-tt.d)); got != tt.want {
			t.Errorf("ago(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestSessionsPageDevices: devices in words, relative times with the exact
// time in <time datetime>, the current device first with its own button, a
// confirmation step for "Sign out everywhere", and device fields in JSON.
func TestSessionsPageDevices(t *testing.T) {
	e := newEnv(t, envOptions{store: memoryStore})
	e.loginJSON("alice", "alice-password", "User-Agent", uaSafariPhone)
	e.clock.Advance(23 * time.Hour) // under sessions.idle_timeout
	b := &browser{}
	e.loginForm(b, "alice", "alice-password", "/")
	e.clock.Advance(3 * time.Minute)
	e.loginJSON("alice", "alice-password", "User-Agent", uaChromeLinux)
	e.clock.Advance(3 * time.Minute)
	html := []string{"Accept", "text/html", "Cookie", e.cookieHeader(b)}
	res := e.do("GET", "/auth/sessions", "", html...)
	wantStatus(t, "sessions page", res, 200)
	body := res.body
	cur := strings.Index(body, `<span class="badge">This device</span>`)
	chrome, safari := strings.Index(body, "<h2>Chrome 156 on Linux</h2>"), strings.Index(body, "<h2>Safari on iPhone</h2>")
	if cur < 0 || chrome < 0 || safari < 0 || !(cur < chrome && chrome < safari) {
		t.Errorf("order: current %d, chrome %d, safari %d, want current first then most recent:\n%s", cur, chrome, safari, body)
	}
	for _, want := range []string{
		"Last active <time datetime=\"", ">3 minutes ago</time>", ">23 hours ago</time>",
		"Signed in <time datetime=\"", ">6 minutes ago</time>",
		">Sign out of this device</button>", ">Sign out<span class=\"visually-hidden\"> Safari on iPhone</span></button>",
		`name="confirm_all" value="1"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The exact times on hover read as dates, in UTC.
	if exact := regexp.MustCompile(`<time datetime="[^"]+" title="\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} UTC">`).FindAllString(body, -1); len(exact) != 6 {
		t.Errorf("%d <time> elements with an exact time for people, want 6 (3 devices × 2): %q", len(exact), exact)
	}
	if strings.Count(body, "Sign out of this device") != 1 || strings.Contains(body, `action="/auth/logout-all"`) {
		t.Errorf("one current button, and logout-all only after confirmation")
	}
	res = e.do("GET", "/auth/sessions?confirm_all=1&rd=%2Fapp", "", html...)
	if !strings.Contains(res.body, "Sign out everywhere?") || !strings.Contains(res.body, `action="/auth/logout-all"`) ||
		!strings.Contains(res.body, `href="/auth/sessions?rd=%2fapp"`) {
		t.Errorf("confirmation step:\n%s", res.body)
	}
	// The confirmation page changes nothing by itself.
	res = e.do("GET", "/auth/sessions", "", "Cookie", e.cookieHeader(b))
	var list struct {
		Sessions []map[string]json.RawMessage `json:"sessions"`
	}
	res.json(t, &list)
	var found bool
	for _, s := range list.Sessions {
		if string(s["device"]) == `{"browser":"Safari 18","os":"iOS 18.1","mobile":true}` {
			found = true
		}
		for _, k := range []string{"id", "created_at", "last_used_at", "ip", "user_agent", "current", "device"} {
			if _, ok := s[k]; !ok {
				t.Errorf("session lacks %q", k)
			}
		}
	}
	if !found || res.StatusCode != http.StatusOK || len(list.Sessions) != 3 {
		t.Errorf("JSON sessions lack the parsed phone: %s", res.body)
	}
}
