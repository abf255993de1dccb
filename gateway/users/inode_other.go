//go:build !unix

package users

import "io/fs"

// inode is unavailable here; mtime, size and the resolved path remain.
func inode(fs.FileInfo) (dev, ino uint64) { return 0, 0 }
