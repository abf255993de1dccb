package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, out, errOut := runBin(t, nil, "version")
	if code != 0 {
		t.Fatalf("version exit = %d, want 0; stderr: %s", code, errOut)
	}
	for _, want := range []string{"portcullis " + testVersion, "commit " + testCommit, runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output %q lacks %q", out, want)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"check", "-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"unknown serve flag", []string{"-bogus"}, 2, "flag provided but not defined: -bogus"},
		{"stray argument", []string{"version", "extra"}, 2, `unexpected argument "extra"`},
		{"check stray argument", []string{"check", "-config", "x.yaml", "y"}, 2, `unexpected argument "y"`},
		{"help", []string{"help"}, 0, ""},
		{"flag help", []string{"check", "-h"}, 0, "-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := runBin(t, nil, tt.args...)
			if code != tt.wantCode {
				t.Errorf("portcullis %v exit = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("portcullis %v stderr = %q, want it to contain %q", tt.args, errOut, tt.wantErr)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"debug", "DEBUG"}, {"info", "INFO"}, {"warn", "WARN"}, {"error", "ERROR"}, {"nonsense", "INFO"},
	}
	for _, tt := range tests {
		if got := parseLevel(tt.in).String(); got != tt.want {
			t.Errorf("parseLevel(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
