package gateway

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/mileusna/useragent"
)

// deviceJSON is a session's device as parsed from its User-Agent (additive
// to the SPEC §5 session fields).
type deviceJSON struct {
	Browser string `json:"browser"` // "Chrome 156", "" when unknown
	OS      string `json:"os"`      // "Linux", "iOS 18.1", "" when unknown
	Mobile  bool   `json:"mobile"`  // a phone or a tablet
	// name is the words the sessions page shows ("Chrome 156 on Linux").
	name string
}

// maxDeviceField caps each parsed field: an Android UA names its device in
// free text, and the page must stay readable whatever a client sent.
const maxDeviceField = 48

// parseDevice names the device of a User-Agent with a maintained parser
// (mileusna/useragent), never hand-written patterns.
func parseDevice(ua string) deviceJSON {
	if ua == "" {
		return deviceJSON{name: "Unknown device"}
	}
	p := useragent.Parse(ua)
	d := deviceJSON{Browser: clip(p.Name), OS: clip(p.OS), Mobile: p.Mobile || p.Tablet}
	if p.Name != "" && p.VersionNo.Major > 0 {
		d.Browser = clip(p.Name + " " + strconv.Itoa(p.VersionNo.Major))
	}
	if p.OS != "" && p.OSVersion != "" {
		d.OS = clip(p.OS + " " + p.OSVersion)
	}
	browser, where := d.Browser, clip(p.OS)
	if d.Mobile {
		browser = clip(p.Name) // "Safari on iPhone": the device says more than a version
		if p.Device != "" {
			where = clip(p.Device)
		}
	}
	switch {
	case browser != "" && where != "":
		d.name = browser + " on " + where
	case browser != "":
		d.name = browser
	case where != "":
		d.name = "A browser on " + where
	default:
		d.name = "Unknown device"
	}
	return d
}

// clip shortens s to maxDeviceField characters (invalid UTF-8 dropped).
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s)) // replaces invalid bytes with U+FFFD
	}
	if utf8.RuneCountInString(s) <= maxDeviceField {
		return s
	}
	return string([]rune(s)[:maxDeviceField-1]) + "…"
}

// ago says how long before now t was, in words ("3 minutes ago").
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return fmt.Sprintf("on %s", t.UTC().Format("2 Jan 2006"))
}
