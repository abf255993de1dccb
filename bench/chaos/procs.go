package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the harness started. Every proc is registered in
// procs so that a failure, a signal or the end of the run kills it.
type proc struct {
	name string
	bin  string
	args []string
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	paused bool
}

// procs is the registry of everything started; stopAll is idempotent.
type procs struct {
	mu  sync.Mutex
	all []*proc
}

var children procs

// start launches bin with args in dir, stdout and stderr appended to
// dir/<name>.log. Pdeathsig kills the child even if the harness itself is
// killed with SIGKILL, so nothing outlives a run.
func (ps *procs) start(name, dir, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, bin: bin, args: args, dir: dir}
	ps.mu.Lock()
	ps.all = append(ps.all, p)
	ps.mu.Unlock()
	return p, p.launch()
}

func (p *proc) launch() error {
	logf, err := os.OpenFile(filepath.Join(p.dir, p.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done, p.paused = cmd, done, false
	p.mu.Unlock()
	return nil
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig, tracking SIGSTOP/SIGCONT so kill can resume first.
func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Signal(sig)
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	}
}

// kill sends SIGKILL (a crash: no shutdown, no final fsync) and waits.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
		if p.paused {
			cmd.Process.Signal(syscall.SIGCONT)
			p.paused = false
		}
	}
	p.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	}
}

// stopAll kills every process started so far (SIGKILL: nothing to keep).
func (ps *procs) stopAll() {
	ps.mu.Lock()
	all := ps.all
	ps.all = nil
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range all {
		wg.Add(1)
		go func() { defer wg.Done(); p.kill() }()
	}
	wg.Wait()
}
