package main

import (
	"fmt"
	"io"
	"os"
)

// runHashPassword implements `portcullis hash-password [-bcrypt]`. Owned by
// the users work; this placeholder only reports that it is missing.
func runHashPassword(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "portcullis hash-password: not implemented yet")
	return 2
}
