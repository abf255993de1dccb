package sessions

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// The fields of a session in its tag's hash (keys.go sessions); the format
// is described once, in lua/layout.lua, which writes it. Go reads it on the
// Validate fast path and in ProviderTokens.
const (
	rawIDLen      = 16 // bytes of a session id's random part: the start of its field names
	recordLen     = 49 // field M: created ms, last used ms (8 bytes each, big-endian), pieces (1), SHA-256 (32)
	infoPieceLen  = 64 // every info piece (fields a, b, …) holds at most this many bytes
	maxInfoPieces = 17 // ceil((1 + 254 + 1 + 64 + 1 + 254 + 512) / 64)
	// fastPieces: info pieces the fast path fetches with M (FAST in
	// lua/layout.lua): 384 bytes, a user agent of about 300 with a short
	// user name. A longer record is validated by the script.
	fastPieces = 6
	// maxInfoField is the longest user name or password fingerprint the info
	// encoding holds (its length is one byte; 255 marks a hex fingerprint).
	maxInfoField = 254
)

// ErrInvalidInput: Create was given a user name or password fingerprint
// longer than 254 bytes, which the Redis layout cannot hold (both stores
// refuse it alike). Users-file names, provider users and the gateway's
// fingerprints are far shorter: it points at a wiring mistake.
var ErrInvalidInput = errors.New("sessions: user name or fingerprint too long")

// check refuses what the stored record cannot hold.
func (n NewSession) check() error {
	if len(n.User) > maxInfoField || len(n.PasswordFingerprint) > maxInfoField {
		return fmt.Errorf("sessions: create: %w", ErrInvalidInput)
	}
	return nil
}

// pieceSuffixes are the suffixes of the info pieces, in order.
const pieceSuffixes = "abcdefghijklmnopq"

// validateFields are the suffixes the Validate fast path reads: the record,
// the first info pieces, the provider record.
const validateFields = "Mabcdef" + "O" // M, pieces a..f (fastPieces), O

// fieldNames returns the names of session id's fields with the given
// suffixes (one allocation for all the names).
func fieldNames(id, suffixes string) []string {
	var raw [rawIDLen]byte
	for i := range raw {
		raw[i] = unhexDigit(id[tagLen+2*i])<<4 | unhexDigit(id[tagLen+2*i+1])
	}
	buf := make([]byte, 0, len(suffixes)*(rawIDLen+1))
	for i := 0; i < len(suffixes); i++ {
		buf = append(append(buf, raw[:]...), suffixes[i])
	}
	all := string(buf)
	out := make([]string, len(suffixes))
	for i := range out {
		out[i] = all[i*(rawIDLen+1) : (i+1)*(rawIDLen+1)]
	}
	return out
}

// unhexDigit decodes one lowercase hex digit (validSessionID checked it).
func unhexDigit(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// storedSession is a session's record and info as decoded from its fields.
type storedSession struct {
	created, lastUsed int64
	user, ip, fp, ua  string
}

// decodeStored decodes field M and the info pieces (which must be all
// there: the first len(pieces) of them); false when anything is off, so
// the caller falls back to the script.
func decodeStored(m any, pieces []any) (storedSession, bool) {
	rec, ok := m.(string)
	if !ok || len(rec) != recordLen {
		return storedSession{}, false
	}
	n := int(rec[16])
	if n < 1 || n > len(pieces) {
		return storedSession{}, false
	}
	var info []byte
	if n == 1 {
		p, ok := pieces[0].(string)
		if !ok {
			return storedSession{}, false
		}
		info = []byte(p)
	} else {
		info = make([]byte, 0, n*infoPieceLen)
		for _, v := range pieces[:n] {
			p, ok := v.(string)
			if !ok {
				return storedSession{}, false
			}
			info = append(info, p...)
		}
	}
	s := storedSession{
		created:  int64(binary.BigEndian.Uint64([]byte(rec[0:8]))),
		lastUsed: int64(binary.BigEndian.Uint64([]byte(rec[8:16]))),
	}
	if s.user, s.ip, s.fp, s.ua, ok = decodeInfo(info); !ok {
		return storedSession{}, false
	}
	return s, true
}

// decodeInfo splits the info pieces joined (lua/layout.lua info_pack).
func decodeInfo(b []byte) (user, ip, fp, ua string, ok bool) {
	// field reads one length-prefixed field; hexMark: 255 announces a
	// 32-hex-digit fingerprint stored as 16 raw bytes.
	field := func(hexMark bool) (string, bool) {
		if len(b) == 0 {
			return "", false
		}
		n := int(b[0])
		if hexMark && n == 255 {
			if len(b) < 17 {
				return "", false
			}
			s := hex.EncodeToString(b[1:17])
			b = b[17:]
			return s, true
		}
		if len(b) < 1+n {
			return "", false
		}
		s := string(b[1 : 1+n])
		b = b[1+n:]
		return s, true
	}
	var ok1, ok2, ok3 bool
	user, ok1 = field(false)
	ip, ok2 = field(false)
	fp, ok3 = field(true)
	if !ok1 || !ok2 || !ok3 {
		return "", "", "", "", false
	}
	return user, ip, fp, string(b), true
}
