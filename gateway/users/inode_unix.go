//go:build unix

package users

import (
	"io/fs"
	"syscall"
)

// inode returns the device and inode of fi, so a file replaced by another of
// the same size and mtime is still noticed.
func inode(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
