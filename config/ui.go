package config

import (
	"bytes"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// UI brands the browser pages (login, sessions, errors).
type UI struct {
	Title       string `yaml:"title"`        // "Portcullis"; the login page says "Sign in to <title>"
	LogoFile    string `yaml:"logo_file"`    // PNG, SVG or WebP, at most 256 KiB
	AccentColor string `yaml:"accent_color"` // #rrggbb ("" = the built-in blue)

	// Logo is logo_file's content and LogoType its media type (image/png,
	// image/svg+xml or image/webp), both filled by Load.
	Logo     []byte `yaml:"-"`
	LogoType string `yaml:"-"`
}

// Limits of the ui keys.
const (
	maxTitleRunes = 64
	maxLogoBytes  = 256 << 10
)

func (c *Config) validateUI(p *problems) {
	t := c.UI.Title
	switch {
	case strings.TrimSpace(t) == "":
		p.add("ui.title", "must not be empty")
	case !utf8.ValidString(t):
		p.add("ui.title", "must be valid UTF-8")
	case utf8.RuneCountInString(t) > maxTitleRunes:
		p.add("ui.title", "longer than %d characters", maxTitleRunes)
	case strings.IndexFunc(t, unicode.IsControl) >= 0:
		p.add("ui.title", "must not contain control characters")
	}
	if a := c.UI.AccentColor; a != "" && !isHexColor(a) {
		// The value goes into the pages' CSS: only this grammar can be trusted there.
		p.add("ui.accent_color", "%q is not a #rrggbb color", a)
	}
}

// isHexColor reports whether s is #rrggbb.
func isHexColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	for _, c := range []byte(s[1:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// readLogo reads ui.logo_file and checks its content, not its name: the
// gateway serves it with the type found here, so a file that is not an image
// of an allowed type must never reach a browser.
func (l *loader) readLogo(c *Config) {
	const path = "ui.logo_file"
	if c.UI.LogoFile == "" || l.d.bad[path] {
		return
	}
	data, err := readLimited(c.UI.LogoFile, maxLogoBytes)
	if err != nil {
		l.fail(path, "%s", fileErr(c.UI.LogoFile, err))
		return
	}
	mt := sniffLogo(data)
	if mt == "" {
		l.fail(path, "%s is not a PNG, SVG or WebP image", c.UI.LogoFile)
		return
	}
	c.UI.Logo, c.UI.LogoType = data, mt
}

// sniffLogo is the media type of an allowed logo, or "". PNG and WebP by
// their signatures (http.DetectContentType); SVG as UTF-8 XML whose first
// element is <svg (after an optional BOM, XML declaration, comments and
// doctype).
func sniffLogo(data []byte) string {
	switch mt := http.DetectContentType(data); mt {
	case "image/png", "image/webp":
		return mt
	}
	if !utf8.Valid(data) {
		return ""
	}
	rest := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		var end []byte
		switch {
		case bytes.HasPrefix(rest, []byte("<?")):
			end = []byte("?>")
		case bytes.HasPrefix(rest, []byte("<!--")):
			end = []byte("-->")
		case bytes.HasPrefix(rest, []byte("<!")):
			end = []byte(">")
		case bytes.HasPrefix(rest, []byte("<svg")) && len(rest) > 4 && strings.ContainsRune(" \t\r\n>/", rune(rest[4])):
			return "image/svg+xml"
		default:
			return ""
		}
		i := bytes.Index(rest, end)
		if i < 0 {
			return ""
		}
		rest = rest[i+len(end):]
	}
}
