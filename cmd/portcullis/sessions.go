package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/portcullis-gw/portcullis/config"
	"github.com/portcullis-gw/portcullis/gateway/users"
	"github.com/portcullis-gw/portcullis/sessions"
)

const sessionsUsage = `Usage:
  portcullis sessions list   -user U [-json] [-config F]
  portcullis sessions revoke -user U (-id SID | -all) [-config F]

Lists or revokes a user's sessions in the configured Redis store. A revoked
session is refused on the next request by every replica. U is a users-file
name, an identity-provider account's username, or its oidc:… store user.
`

// sessionsTimeout bounds one CLI call against the store.
const sessionsTimeout = 10 * time.Second

// runSessions implements `portcullis sessions list|revoke`: exit 0 on
// success, 1 on failure (store unreachable, no such session, memory store),
// 2 on a usage error.
func runSessions(args []string, stdout, stderr io.Writer) int {
	if code := sessionsVerb(args, stdout, stderr); code >= 0 {
		return code
	}
	verb := args[0]
	fs := newFlagSet("sessions "+verb, stderr)
	path := configFlag(fs)
	user := fs.String("user", "", "the user whose sessions to "+verb+" (required)")
	var id *string
	var all, asJSON *bool
	if verb == "revoke" {
		id = fs.String("id", "", "revoke this session id")
		all = fs.Bool("all", false, "revoke all of the user's sessions")
	} else {
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	}
	if code := parseFlags(fs, args[1:]); code >= 0 {
		return code
	}
	switch {
	case *user == "":
		fmt.Fprintf(stderr, "portcullis sessions %s: -user is required\n", verb)
		return 2
	case verb == "revoke" && (*id == "") == !*all:
		fmt.Fprintln(stderr, "portcullis sessions revoke: give exactly one of -id SID and -all")
		return 2
	}

	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis sessions %s: invalid config:\n", verb)
		writeProblems(stderr, config.FieldErrors(err))
		return 1
	}
	defer useRedisLogger(newLogger(stderr, cfg.Log, new(slog.LevelVar)))()
	if cfg.Sessions.Store != config.StoreRedis {
		fmt.Fprintf(stderr, "portcullis sessions %s: %s uses sessions.store %q: the memory store lives inside the serving process; nothing to %s from here\n",
			verb, *path, cfg.Sessions.Store, verb)
		return 1
	}
	store, err := cliStore(cfg.Sessions)
	if err != nil {
		// "sessions: redis tls: …": the command line already says sessions.
		fmt.Fprintf(stderr, "portcullis sessions %s: %s\n", verb, strings.TrimPrefix(err.Error(), "sessions: "))
		return 1
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), sessionsTimeout)
	defer cancel()

	*user, err = storeUser(ctx, cfg, store, *user)
	switch {
	case err != nil:
	case verb == "list":
		err = listSessions(ctx, store, *user, *asJSON, stdout)
	case *all:
		err = revokeAll(ctx, store, *user, stdout)
	default:
		err = revokeOne(ctx, store, *user, *id, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis sessions %s: %s\n", verb, storeErrorText(err))
		return 1
	}
	return 0
}

// storeUser is the store user whose sessions -user names, as the admin API
// resolves {user}: a users-file name as is; else the identity-provider
// account (sessions.ProviderUser) that signs in with that username, when
// one does; else the value as is (a provider account's store user can be
// given directly).
func storeUser(ctx context.Context, cfg *config.Config, store *sessions.RedisStore, name string) (string, error) {
	if len(cfg.IdentityProviders) == 0 || sessions.IsProviderUser(name) {
		return name, nil
	}
	if cfg.Users.File != "" {
		set, err := users.Load(cfg.Users.File, cfg.Users.Argon2)
		if err != nil {
			return "", err
		}
		if _, local := set.Lookup(name); local {
			return name, nil
		}
	}
	owner, err := store.UsernameOwner(ctx, name)
	if err != nil || owner == "" {
		return name, err
	}
	return owner, nil
}

// storeErrorText words a store error for the operator without the store's
// layered prefixes ("sessions: list: sessions: store unavailable: …"): the
// command line already names the command.
func storeErrorText(err error) string {
	if !errors.Is(err, sessions.ErrUnavailable) {
		return err.Error()
	}
	if cause := unavailableCause(err); cause != nil {
		return "session store unavailable: " + cause.Error()
	}
	return "session store unavailable"
}

// unavailableCause returns the error joined to sessions.ErrUnavailable in
// err's tree (the network or Redis error behind it), or nil.
func unavailableCause(err error) error {
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		list := e.Unwrap()
		for i, c := range list {
			if c == sessions.ErrUnavailable && i+1 < len(list) {
				return list[i+1]
			}
		}
		for _, c := range list {
			if cause := unavailableCause(c); cause != nil {
				return cause
			}
		}
	case interface{ Unwrap() error }:
		return unavailableCause(e.Unwrap())
	}
	return nil
}

// sessionsVerb returns -1 when args start with a verb (list, revoke);
// otherwise it prints the usage and returns the exit code (0 for help).
func sessionsVerb(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) > 0 && (args[0] == "list" || args[0] == "revoke"):
		return -1
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help"):
		fmt.Fprint(stdout, sessionsUsage)
		return 0
	}
	fmt.Fprint(stderr, sessionsUsage)
	return 2
}

// cliStore opens the configured Redis store. The CLI never refreshes a
// token, so the derive key (needed only to re-issue grace-window tokens) is
// a throwaway: the signing keys need not be readable by whoever runs this.
func cliStore(cfg config.Sessions) (*sessions.RedisStore, error) {
	client, err := sessions.NewRedisClient(cfg.Redis)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	store := sessions.NewRedisStore(client, cfg.Redis.KeyPrefix, sessions.OptionsFor(cfg, key))
	if cfg.Cache.Enabled {
		// Replicas with a validation cache drop a revoked session at once
		// only if the revoking script announces it.
		store = store.WithInvalidations()
	}
	return store, nil
}

// sessionJSON is one line of `sessions list -json` (the shape of the admin
// API's session objects).
type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

func listSessions(ctx context.Context, store *sessions.RedisStore, user string, asJSON bool, w io.Writer) error {
	list, err := store.List(ctx, user)
	if err != nil {
		return err
	}
	if asJSON {
		out := struct {
			User     string        `json:"user"`
			Sessions []sessionJSON `json:"sessions"`
		}{User: user, Sessions: []sessionJSON{}}
		for _, s := range list {
			out.Sessions = append(out.Sessions, sessionJSON{s.ID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt, s.IP, s.UserAgent})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(list) == 0 {
		fmt.Fprintf(w, "no sessions for %s\n", printable(user))
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tLAST USED\tEXPIRES\tIP\tUSER AGENT")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.CreatedAt.Format(time.RFC3339),
			s.LastUsedAt.Format(time.RFC3339), s.ExpiresAt.Format(time.RFC3339), printable(s.IP), printable(s.UserAgent))
	}
	return tw.Flush()
}

func revokeOne(ctx context.Context, store *sessions.RedisStore, user, id string, w io.Writer) error {
	err := store.Revoke(ctx, user, id)
	if errors.Is(err, sessions.ErrNotFound) {
		return fmt.Errorf("%s has no session %s", printable(user), printable(id))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "revoked %s\n", id)
	return nil
}

func revokeAll(ctx context.Context, store *sessions.RedisStore, user string, w io.Writer) error {
	ids, err := store.RevokeUser(ctx, user)
	if err != nil {
		return err
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(w, "revoked %s\n", id)
	}
	fmt.Fprintf(w, "%d session(s) of %s revoked\n", len(ids), printable(user))
	return nil
}

// printable escapes control and other non-printing characters: the user
// agent (and, via the flags, anything else) is client-controlled text that
// must not drive the operator's terminal, and a tab would break the table.
func printable(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || r == '\t' }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
