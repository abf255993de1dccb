package users

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis-gw/portcullis/config"
)

// Store holds the current users Set and replaces it on reload. It is safe
// for concurrent use: readers take Current() without locking.
type Store struct {
	path  string
	limit config.Argon2Limit
	cur   atomic.Pointer[Set]

	mu   sync.Mutex // serialises Reload
	seen fileState  // the file as it was at the last reload attempt
}

// NewStore loads path and returns a Store serving it.
func NewStore(path string, limit config.Argon2Limit) (*Store, error) {
	s := &Store{path: path, limit: limit}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Current returns the Set in force.
func (s *Store) Current() *Set { return s.cur.Load() }

// Path returns the users file path.
func (s *Store) Path() string { return s.path }

// Reload re-reads the file. An unreadable, invalid or empty file is refused
// and the previous Set keeps serving. Reload writes nothing anywhere else:
// sessions re-check users on their next request.
func (s *Store) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Stat before reading: a change racing the read is seen by the next poll.
	st, _ := statFile(s.path)
	s.seen = st
	set, err := Load(s.path, s.limit)
	if err != nil {
		return err
	}
	s.cur.Store(set)
	return nil
}

func (s *Store) seenState() fileState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen
}

// fileState identifies one version of the users file. os.Stat follows every
// symlink, so a Kubernetes ConfigMap update (the ..data symlink swapped to a
// new timestamped directory) changes target, inode and usually mtime even
// though the path the gateway was given never changes.
type fileState struct {
	target   string // the path with every symlink resolved
	dev, ino uint64
	size     int64
	mtime    int64  // UnixNano; plain integers keep == exact
	linkIno  uint64 // the named path itself (Lstat): replaced symlinks show here
	linkTime int64
}

func statFile(path string) (fileState, error) {
	var st fileState
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return st, err
	}
	fi, err := os.Stat(target)
	if err != nil {
		return st, err
	}
	st.target, st.size, st.mtime = target, fi.Size(), fi.ModTime().UnixNano()
	st.dev, st.ino = inode(fi)
	if li, err := os.Lstat(path); err == nil {
		_, st.linkIno = inode(li)
		st.linkTime = li.ModTime().UnixNano()
	}
	return st, nil
}

// Watch polls the file every interval until ctx ends and reloads it when it
// changed (resolved target, inode, size or mtime of the file or of the
// symlink naming it). A change is reloaded once it has been stable for one
// interval, so a half-written file is not picked up. A file that fails to
// load is not retried until it changes again. onReload, if not nil, is
// called with the result of every reload Watch triggers.
func (s *Store) Watch(ctx context.Context, interval time.Duration, logger *slog.Logger, onReload func(error)) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var pending *fileState
	missing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := statFile(s.path)
		if err != nil {
			if !missing {
				logger.Warn("users file unavailable; keeping the current users", "path", s.path, "err", err)
			}
			missing, pending = true, nil
			continue
		}
		missing = false
		if st == s.seenState() {
			pending = nil
			continue
		}
		if pending == nil || *pending != st {
			pending = &st // changed: wait one more interval for the writer to finish
			continue
		}
		pending = nil
		err = s.Reload()
		if err != nil {
			logger.Error("users file reload failed; keeping the previous users", "path", s.path, "err", err)
		} else {
			logger.Info("users file reloaded", "path", s.path, "users", s.Current().Len())
		}
		if onReload != nil {
			onReload(err)
		}
	}
}

// String describes the store for logs.
func (s *Store) String() string { return fmt.Sprintf("users.Store(%s)", s.path) }
