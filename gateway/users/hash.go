package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/portcullis-gw/portcullis/config"
)

// Default argon2id parameters for Hash: the OWASP Password Storage Cheat
// Sheet's first argon2id setting (m=19 MiB, t=2, p=1). p=1 keeps one check
// on one core, so the admission bound on concurrent checks is a bound on
// cores; about 30 ms of CPU per check here (docs/authentication.md, "Authentication cost").
const (
	DefaultMemoryKiB   = 19 * 1024
	DefaultIterations  = 2
	DefaultParallelism = 1
	saltBytes          = 16
	keyBytes           = 32
	// BcryptCost is the cost of bcrypt hashes made by Hash.
	BcryptCost = 12
	// MaxBcryptCost caps the bcrypt cost accepted from the users file: cost
	// 31 would take days per login attempt, so a hostile hash is a DoS.
	MaxBcryptCost = 16
	// MaxPasswordBytes is the longest password Hash and Authenticate accept.
	MaxPasswordBytes = 1024
)

// Caps used when a config.Argon2Limit field is zero (SPEC §3 users.argon2).
const (
	defaultMaxMemoryKiB   = 256 * 1024
	defaultMaxIterations  = 10
	defaultMaxParallelism = 16
)

// hash is a parsed password hash from the users file.
type hash interface {
	// verify runs the full derivation and compares in constant time.
	verify(password []byte) bool
	// kind names the scheme for tests and logs: "argon2id" or "bcrypt".
	kind() string
}

type argonHash struct {
	memory, iterations uint32
	parallelism        uint8
	salt, key          []byte
}

func (h *argonHash) kind() string { return "argon2id" }

func (h *argonHash) verify(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.iterations, h.memory, h.parallelism, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

type bcryptHash struct{ encoded []byte }

func (h *bcryptHash) kind() string { return "bcrypt" }

// verify: bcrypt.CompareHashAndPassword compares in constant time itself.
func (h *bcryptHash) verify(password []byte) bool {
	return bcrypt.CompareHashAndPassword(h.encoded, password) == nil
}

// dummyHash is verified for unknown users of a Set that has no argon2id or
// bcrypt hash to imitate (see dummyFor): one default argon2id derivation
// (Caddy basicauth's fakePassword). Its key matches no password in practice.
var dummyHash = &argonHash{
	memory:      DefaultMemoryKiB,
	iterations:  DefaultIterations,
	parallelism: DefaultParallelism,
	salt:        []byte("portcullis-dummy"),
	key:         []byte("portcullis-dummy-key-never-match"),
}

// dummyFor returns the hash unknown users are checked against: one with the
// scheme and cost most users of the file have (ties: the costlier), so an
// unknown name costs what a known one does, whatever parameters the file was
// hashed with (an older default, bcrypt). Its key matches no password.
func dummyFor(hs []hash) hash {
	type cost struct {
		kind       string
		m, t, p, c int
	}
	counts := map[cost]int{}
	var best cost
	for _, h := range hs {
		var k cost
		switch h := h.(type) {
		case *argonHash:
			k = cost{kind: "argon2id", m: int(h.memory), t: int(h.iterations), p: int(h.parallelism)}
		case *bcryptHash:
			c, _ := bcrypt.Cost(h.encoded)
			k = cost{kind: "bcrypt", c: c}
		}
		counts[k]++
		n, bn := counts[k], counts[best]
		if n > bn || n == bn && k.m*k.t+k.c > best.m*best.t+best.c {
			best = k
		}
	}
	switch best.kind {
	case "argon2id":
		d := *dummyHash
		d.memory, d.iterations, d.parallelism = uint32(best.m), uint32(best.t), uint8(best.p)
		return &d
	case "bcrypt":
		// A well-formed hash of that cost: bcrypt runs the full key schedule
		// before it compares.
		return &bcryptHash{encoded: fmt.Appendf(nil, "$2b$%02d$%s", best.c, strings.Repeat("O", 53))}
	}
	return dummyHash
}

// parseHash parses an encoded hash, enforcing the argon2 caps. Errors never
// quote the hash: it is password-equivalent for an offline attacker.
func parseHash(s string, limit config.Argon2Limit) (hash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s, limit)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("only the argon2id variant is supported")
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil || len(s) != 60 {
			return nil, errors.New("malformed bcrypt hash")
		}
		if cost > MaxBcryptCost {
			return nil, fmt.Errorf("bcrypt cost %d exceeds %d", cost, MaxBcryptCost)
		}
		return &bcryptHash{encoded: []byte(s)}, nil
	case s == "":
		return nil, errors.New("empty")
	default:
		return nil, errors.New("unsupported format (want $argon2id$… or bcrypt $2a$/$2b$/$2y$…)")
	}
}

// parseArgon2id parses the PHC form $argon2id$v=19$m=M,t=T,p=P$salt$key.
func parseArgon2id(s string, limit config.Argon2Limit) (hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New("malformed argon2id hash (want $argon2id$v=19$m=…,t=…,p=…$salt$hash)")
	}
	if parts[2] != "v=19" {
		return nil, errors.New("argon2id version must be v=19")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, errors.New("argon2id parameters must be m=…,t=…,p=…")
	}
	var vals [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], prefix)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return nil, fmt.Errorf("argon2id parameter %q must be a positive integer", strings.TrimSuffix(prefix, "="))
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	maxM, maxT, maxP := uint64(limit.MaxMemoryKiB), uint64(limit.MaxIterations), uint64(limit.MaxParallelism)
	if maxM == 0 {
		maxM = defaultMaxMemoryKiB
	}
	if maxT == 0 {
		maxT = defaultMaxIterations
	}
	if maxP == 0 {
		maxP = defaultMaxParallelism
	}
	switch {
	case m > maxM:
		return nil, fmt.Errorf("argon2id memory m=%d exceeds the cap of %d KiB", m, maxM)
	case t > maxT:
		return nil, fmt.Errorf("argon2id iterations t=%d exceed the cap of %d", t, maxT)
	case p > maxP || p > 255:
		return nil, fmt.Errorf("argon2id parallelism p=%d exceeds the cap of %d", p, maxP)
	case m < 8*p:
		return nil, fmt.Errorf("argon2id memory m=%d is below 8×p", m)
	}
	salt, err1 := decodePHC(parts[4])
	key, err2 := decodePHC(parts[5])
	switch {
	case err1 != nil || err2 != nil:
		return nil, errors.New("argon2id salt or hash is not valid base64")
	case len(salt) < 8 || len(salt) > 64:
		return nil, fmt.Errorf("argon2id salt is %d bytes, want 8 to 64", len(salt))
	case len(key) < 16 || len(key) > 128:
		return nil, fmt.Errorf("argon2id hash is %d bytes, want 16 to 128", len(key))
	}
	return &argonHash{memory: uint32(m), iterations: uint32(t), parallelism: uint8(p), salt: salt, key: key}, nil
}

// decodePHC decodes PHC base64: standard alphabet, padding omitted (tolerated).
func decodePHC(s string) ([]byte, error) {
	return base64.RawStdEncoding.Strict().DecodeString(strings.TrimRight(s, "="))
}

// Hash returns an argon2id hash of password with the default parameters
// (m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte key) in PHC form, or with
// useBcrypt a bcrypt hash of cost 12 (bcrypt refuses passwords over 72 bytes).
func Hash(password string, useBcrypt bool) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	if useBcrypt {
		b, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
		if err != nil {
			return "", fmt.Errorf("users: hash: %w", err)
		}
		return string(b), nil
	}
	return HashArgon2id(password, DefaultMemoryKiB, DefaultIterations, DefaultParallelism)
}

// HashArgon2id hashes with explicit argon2id parameters. Tests elsewhere use
// it with tiny parameters to keep fixtures cheap; operators want Hash.
func HashArgon2id(password string, memoryKiB, iterations uint32, parallelism uint8) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	if iterations == 0 || parallelism == 0 || memoryKiB < 8*uint32(parallelism) {
		return "", errors.New("users: hash: invalid argon2id parameters")
	}
	salt := make([]byte, saltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("users: hash: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, iterations, memoryKiB, parallelism, keyBytes)
	enc := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memoryKiB, iterations, parallelism, enc(salt), enc(key)), nil
}

func checkPassword(password string) error {
	switch {
	case password == "":
		return errors.New("users: hash: empty password")
	case len(password) > MaxPasswordBytes:
		return fmt.Errorf("users: hash: password longer than %d bytes", MaxPasswordBytes)
	}
	return nil
}
