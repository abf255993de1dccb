package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/portcullis-gw/portcullis/gateway/users"
)

// runHashPassword implements `portcullis hash-password [-bcrypt]` (SPEC §2):
// it reads a password from stdin and prints its argon2id (default) or bcrypt
// hash for the users file. On a terminal it prompts on stderr, reads without
// echo and asks twice; otherwise it reads one line.
func runHashPassword(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	fs := newFlagSet("hash-password", stderr)
	useBcrypt := fs.Bool("bcrypt", false, "print a bcrypt hash (cost 12) instead of argon2id (m=19456,t=2,p=1)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: portcullis hash-password [-bcrypt] < password\n\n"+
			"Reads a password from stdin (prompting without echo on a terminal) and prints\n"+
			"its hash for the users file's password_hash.\n\n")
		fs.PrintDefaults()
	}
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if stdin == nil {
		fmt.Fprintln(stderr, "portcullis hash-password: no stdin")
		return 1
	}
	var password []byte
	var err error
	if fd := int(stdin.Fd()); term.IsTerminal(fd) {
		password, err = promptTwice(func() ([]byte, error) { return term.ReadPassword(fd) }, stderr)
	} else {
		password, err = readLine(stdin)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis hash-password: %v\n", err)
		return 1
	}
	hash, err := users.Hash(string(password), *useBcrypt)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}

// promptTwice asks for the password and its confirmation through read (no
// echo) and requires both to match.
func promptTwice(read func() ([]byte, error), prompt io.Writer) ([]byte, error) {
	fmt.Fprint(prompt, "Password: ")
	first, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if err := checkLength(first); err != nil {
		return nil, err
	}
	fmt.Fprint(prompt, "Confirm password: ")
	second, err := read()
	fmt.Fprintln(prompt)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if !bytes.Equal(first, second) {
		return nil, errors.New("passwords do not match")
	}
	return first, nil
}

// readLine reads the first line of r without its line ending (\n or \r\n),
// refusing an empty or over-long one. It never buffers more than the longest
// acceptable password plus "\r\n".
func readLine(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, users.MaxPasswordBytes+2)
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("password longer than %d bytes", users.MaxPasswordBytes)
	case err != nil && !errors.Is(err, io.EOF):
		return nil, fmt.Errorf("read password: %w", err)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if err := checkLength(line); err != nil {
		return nil, err
	}
	return bytes.Clone(line), nil
}

func checkLength(password []byte) error {
	switch {
	case len(password) == 0:
		return errors.New("empty password")
	case len(password) > users.MaxPasswordBytes:
		return fmt.Errorf("password longer than %d bytes", users.MaxPasswordBytes)
	}
	return nil
}
