package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/portcullis-gw/portcullis/sessions/sessionstest"
)

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Command     []string `yaml:"command"`
		Volumes     []string `yaml:"volumes"`
		StopGrace   string   `yaml:"stop_grace_period"`
		Healthcheck struct {
			Test    []string `yaml:"test"`
			Timeout string   `yaml:"timeout"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	data, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c, string(data)
}

func TestCompose(t *testing.T) {
	t.Parallel()
	c, text := readCompose(t)
	img := parseImage(t)
	gw, ok := c.Services["gateway"]
	if !ok {
		t.Fatal("no gateway service")
	}
	t.Run("gateway healthcheck runs the binary", func(t *testing.T) {
		// Exec form: CMD-SHELL needs a shell, which distroless lacks.
		if hc := gw.Healthcheck.Test; len(hc) < 3 || hc[0] != "CMD" || hc[1] != img.binary || hc[2] != "health" {
			t.Errorf("gateway healthcheck %q, want [CMD %s health ...]", hc, img.binary)
		}
		if d, err := time.ParseDuration(gw.Healthcheck.Timeout); err != nil || d <= 2*time.Second {
			t.Errorf("gateway healthcheck timeout %q, want more than health's own 2s", gw.Healthcheck.Timeout)
		}
	})
	t.Run("stop grace outlasts the drain", func(t *testing.T) {
		shipped, err := os.ReadFile("gateway.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Server struct {
				Delay   time.Duration `yaml:"shutdown_delay"`
				Timeout time.Duration `yaml:"shutdown_timeout"`
			} `yaml:"server"`
		}
		if err := yaml.Unmarshal(shipped, &cfg); err != nil {
			t.Fatal(err)
		}
		grace, err := time.ParseDuration(gw.StopGrace)
		if err != nil || grace <= cfg.Server.Delay+cfg.Server.Timeout {
			t.Errorf("stop_grace_period %q, want more than shutdown_delay + shutdown_timeout = %v", gw.StopGrace, cfg.Server.Delay+cfg.Server.Timeout)
		}
	})
	t.Run("images pinned", func(t *testing.T) {
		for name, s := range c.Services {
			if s.Image == "" {
				continue // built
			}
			if _, tag, ok := strings.Cut(s.Image, ":"); !ok || tag == "latest" {
				t.Errorf("service %s image %q: pin a version", name, s.Image)
			}
		}
	})
	t.Run("bind mounts exist", func(t *testing.T) {
		for name, s := range c.Services {
			for _, v := range s.Volumes {
				src, _, _ := strings.Cut(v, ":")
				if !strings.HasPrefix(src, ".") || src == "./secrets" {
					continue // named volume, or created by the operator
				}
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	})
	t.Run("secrets never world-readable", func(t *testing.T) {
		if m := regexp.MustCompile(`chmod\s+(-R\s+)?0?[0-7][0-7][1-7]\b`).FindString(text); m != "" {
			t.Errorf("the instructions say %q: secrets must not be world-readable", m)
		}
		if !strings.Contains(text, "chown -R 65532:65532 secrets") {
			t.Errorf("the instructions do not give the secrets to the image's uid 65532")
		}
	})
	t.Run("redis healthcheck passes the password by environment", func(t *testing.T) {
		hc := strings.Join(c.Services["redis"].Healthcheck.Test, " ")
		if !strings.Contains(hc, "REDISCLI_AUTH=") || regexp.MustCompile(`\s(-a|--pass|--askpass)\b`).MatchString(hc) {
			t.Errorf("redis healthcheck %q: use REDISCLI_AUTH, never -a", hc)
		}
	})
}

// The compose file's redis command, run by sh against the real redis-server:
// the server requires the password, and no process gets it as an argument.
func TestComposeRedisPasswordNotOnCommandLine(t *testing.T) {
	t.Parallel()
	c, _ := readCompose(t)
	cmd := c.Services["redis"].Command
	if len(cmd) != 3 || cmd[0] != "sh" || cmd[1] != "-c" {
		t.Fatalf("redis command %q, want [sh -c script]", cmd)
	}
	real := requireTool(t, "redis-server")
	dir := t.TempDir()
	const password = "pw-7d1f0c2e9a"
	writeFile(t, filepath.Join(dir, "secrets", "redis-password"), password+"\n", 0o400)
	// Compose turns $$ into $; the secret directory moves to the test's.
	script := strings.ReplaceAll(cmd[2], "$$", "$")
	script = strings.ReplaceAll(script, "/run/secrets/portcullis/", dir+"/secrets/")

	// A redis-server on PATH that records its arguments, then runs the real
	// one on a free loopback port in dir (never the machine's 6379).
	addr := sessionstest.FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	argvFile := filepath.Join(dir, "argv")
	writeFile(t, filepath.Join(dir, "bin", "redis-server"), "#!/bin/sh\n"+
		"printf '%s\\n' \"$0\" \"$@\" > "+argvFile+"\n"+
		"exec "+real+" \"$@\" --port "+port+" --bind 127.0.0.1 --dir "+dir+" --appendonly no --save '' --logfile "+dir+"/redis.log\n", 0o755)
	sh := exec.Command("sh", "-c", script)
	sh.Env = append(os.Environ(), "PATH="+filepath.Join(dir, "bin")+":"+os.Getenv("PATH"))
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })

	var reply string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if reply, err = sessionstest.CommandAuth(addr, "", password, "PING"); err == nil {
			break
		}
	}
	if err != nil || reply != "PONG" {
		t.Fatalf("PING with the password = %q, %v; want PONG", reply, err)
	}
	if reply, err := sessionstest.Command(addr, "PING"); err == nil && !strings.Contains(reply, "NOAUTH") {
		t.Errorf("PING without the password = %q, want NOAUTH", reply)
	}
	argv, err := os.ReadFile(argvFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(argv), password) || !slices.Contains(strings.Fields(string(argv)), "-") {
		t.Errorf("redis-server argv %q: want the config on stdin (-) and no password", argv)
	}
}
