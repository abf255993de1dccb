package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pngHeader is the PNG signature and the start of an IHDR chunk.
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

func TestUIDefaults(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, usersLine, nil)
	if c.UI.Title != "Portcullis" || c.UI.LogoFile != "" || c.UI.Logo != nil || c.UI.AccentColor != "" {
		t.Errorf("ui defaults = %+v", c.UI)
	}
}

func TestUILogo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{
		"logo.png":      append(append([]byte{}, pngHeader...), make([]byte, 64)...),
		"logo.webp":     []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd"),
		"logo.svg":      []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>`),
		"decl.svg":      []byte("\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- logo -->\n<!DOCTYPE svg>\n<svg\nviewBox=\"0 0 1 1\"/>"),
		"huge.png":      append(append([]byte{}, pngHeader...), make([]byte, 256<<10)...),
		"page.svg":      []byte(`<html><script>alert(1)</script></html>`),
		"svgx.svg":      []byte(`<svgfoo/>`),
		"text.png":      []byte("just text, named .png"),
		"gif.png":       []byte("GIF89a\x01\x00\x01\x00"),
		"binary.svg":    []byte("<svg \xff\xfe/>"),
		"unclosed.svg":  []byte("<!-- <svg/>"),
		"empty.png":     {},
		"exactly.png":   append(append([]byte{}, pngHeader...), make([]byte, 256<<10-len(pngHeader))...),
		"ELF":           []byte("\x7fELF\x02\x01\x01"),
		"sub/dir.png/x": nil,
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if body != nil || name == "empty.png" {
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		file, wantType, wantErr string
	}{
		{"logo.png", "image/png", ""},
		{"logo.webp", "image/webp", ""},
		{"logo.svg", "image/svg+xml", ""},
		{"decl.svg", "image/svg+xml", ""},
		{"exactly.png", "image/png", ""},
		{"huge.png", "", "larger than 262144 bytes"},
		{"page.svg", "", "is not a PNG, SVG or WebP image"},
		{"svgx.svg", "", "is not a PNG, SVG or WebP image"},
		{"text.png", "", "is not a PNG, SVG or WebP image"},
		{"gif.png", "", "is not a PNG, SVG or WebP image"},
		{"binary.svg", "", "is not a PNG, SVG or WebP image"},
		{"unclosed.svg", "", "is not a PNG, SVG or WebP image"},
		{"empty.png", "", "is not a PNG, SVG or WebP image"},
		{"ELF", "", "is not a PNG, SVG or WebP image"},
		{"missing.png", "", "no such file"},
		{"sub/dir.png", "", "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			doc := "ui:\n  logo_file: " + filepath.Join(dir, tt.file) + "\n" + usersLine
			c, probs := loadDoc(t, doc, nil)
			if tt.wantErr != "" {
				if len(probs) != 1 || !strings.HasPrefix(probs[0], "gateway.yaml:2: ui.logo_file: ") || !strings.Contains(probs[0], tt.wantErr) {
					t.Errorf("problems = %q, want one ui.logo_file problem with %q", probs, tt.wantErr)
				}
				return
			}
			if probs != nil {
				t.Fatalf("problems = %q", probs)
			}
			if c.UI.LogoType != tt.wantType || !bytes.Equal(c.UI.Logo, files[tt.file]) {
				t.Errorf("logo type %q (%d bytes), want %q", c.UI.LogoType, len(c.UI.Logo), tt.wantType)
			}
		})
	}
}

func TestUIValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ui, want string
	}{
		{"title", `{title: "Acme <b>Portal</b>", accent_color: "#1A2b3c"}`, ""},
		{"title of 64 runes", `{title: "` + strings.Repeat("é", 64) + `"}`, ""},
		{"title too long", `{title: "` + strings.Repeat("é", 65) + `"}`, "ui.title: longer than 64 characters"},
		{"empty title", `{title: ""}`, "ui.title: must not be empty"},
		{"blank title", `{title: "  "}`, "ui.title: must not be empty"},
		{"title with newline", `{title: "a\nb"}`, "ui.title: must not contain control characters"},
		{"title with escape", `{title: "a\u001bb"}`, "ui.title: must not contain control characters"},
		{"title with DEL", `{title: "a\u007fb"}`, "ui.title: must not contain control characters"},
		{"short color", `{accent_color: "#abc"}`, `ui.accent_color: "#abc" is not a #rrggbb color`},
		{"named color", `{accent_color: red}`, `ui.accent_color: "red" is not a #rrggbb color`},
		{"CSS injection", `{accent_color: "#000000}body{display:none"}`, "ui.accent_color: "},
		{"no hash", `{accent_color: "1a2b3c"}`, "ui.accent_color: "},
		{"non-hex", `{accent_color: "#12345g"}`, "ui.accent_color: "},
		{"unknown key", `{colour: "#000000"}`, "ui.colour: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := loadDoc(t, "ui: "+tt.ui+"\n"+usersLine, nil)
			if tt.want == "" {
				if probs != nil {
					t.Errorf("problems = %q", probs)
				}
				return
			}
			checkProblems(t, probs, []string{"gateway.yaml:1: " + tt.want})
		})
	}
}
