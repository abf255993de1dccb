package sessions

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// packInfo mirrors lua/layout.lua's info_pack and put (the writer lives in
// Lua): the info joined, cut into 64-byte pieces, and the M record.
func packInfo(created, lastUsed int64, user, ip, fp, ua string) (m any, pieces []any) {
	info := []byte{byte(len(user))}
	info = append(info, user...)
	info = append(info, byte(len(ip)))
	info = append(info, ip...)
	if raw, err := hex.DecodeString(fp); err == nil && len(fp) == 32 && strings.ToLower(fp) == fp {
		info = append(append(info, 255), raw...)
	} else {
		info = append(append(info, byte(len(fp))), fp...)
	}
	info = append(info, ua...)
	for len(info) > 0 {
		n := min(len(info), infoPieceLen)
		pieces = append(pieces, string(info[:n]))
		info = info[n:]
	}
	rec := binary.BigEndian.AppendUint64(nil, uint64(created))
	rec = binary.BigEndian.AppendUint64(rec, uint64(lastUsed))
	rec = append(rec, byte(len(pieces)))
	rec = append(rec, make([]byte, 32)...)
	return string(rec), pieces
}

// FuzzDecodeStored: the fast path's decoder of what Redis returned never
// panics on any bytes (a corrupt or foreign record falls back to the
// script), and reads back exactly what the layout writes.
func FuzzDecodeStored(f *testing.F) {
	f.Add(int64(1700000000000), int64(1700000060000), "alice", "203.0.113.42", "9f86d081884c7d659a2feaa0c55ad015",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", []byte{})
	f.Add(int64(0), int64(0), "", "", "", "", []byte{49, 0, 0, 0})
	f.Add(int64(-1), int64(1), strings.Repeat("u", 254), strings.Repeat("1", 64), "ABCDEF0123456789abcdef0123456789", strings.Repeat("é", 256), []byte{255, 1, 2})
	f.Fuzz(func(t *testing.T, created, lastUsed int64, user, ip, fp, ua string, junk []byte) {
		// Arbitrary bytes as M and as pieces: no panic, and no claim of a
		// session unless the record has the exact shape.
		m := string(junk)
		if st, ok := decodeStored(m, []any{m, nil, m}); ok && len(m) != recordLen {
			t.Fatalf("decodeStored accepted a %d-byte record: %+v", len(m), st)
		}
		decodeInfo(junk)

		if len(user) > maxInfoField || len(fp) > maxInfoField || len(ip) > maxIPLen || len(ua) > maxUserAgentLen {
			return // Create refuses or clips these
		}
		rec, pieces := packInfo(created, lastUsed, user, ip, fp, ua)
		if len(pieces) > maxInfoPieces {
			t.Fatalf("%d pieces for the longest allowed info, layout holds %d", len(pieces), maxInfoPieces)
		}
		full := make([]any, maxInfoPieces)
		copy(full, pieces)
		st, ok := decodeStored(rec, full)
		if !ok {
			t.Fatalf("decodeStored refused a well-formed record (%d pieces)", len(pieces))
		}
		want := storedSession{created: created, lastUsed: lastUsed, user: user, ip: ip, fp: fp, ua: ua}
		if st != want {
			t.Fatalf("decodeStored = %+v, want %+v", st, want)
		}
		// Fewer pieces fetched than the record has: not answered (the
		// script reads the rest).
		if len(pieces) > 1 {
			if _, ok := decodeStored(rec, full[:len(pieces)-1]); ok {
				t.Fatal("decodeStored answered with a piece missing")
			}
		}
	})
}
