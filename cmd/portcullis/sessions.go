package main

import (
	"fmt"
	"io"
)

// runSessions implements `portcullis sessions list|revoke`. Owned by the
// sessions work; this placeholder only reports that it is missing.
func runSessions(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "portcullis sessions: not implemented yet")
	return 2
}
