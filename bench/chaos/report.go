package main

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// collect fills the result from the ledger and applies the figure checks
// (failover recovery, flood) that become violations past their limits.
func (e *env) collect(res result, stop time.Time) result {
	res.windows = e.l.windows(stop)
	for _, w := range res.windows {
		if !w.ev.failover {
			continue
		}
		if !w.recovered || w.recovery > e.o.promoteLimit {
			e.l.violation("failover-window", "%s: 503 until %v after the promotion (limit %v, recovered before the next phase: %t)",
				w.ev.name, w.recovery.Round(time.Millisecond), e.o.promoteLimit, w.recovered)
		}
	}
	if f := res.flood; f != nil {
		if e.o.floodRatio > 0 && f.quietRPS > 0 && f.floodRPS < e.o.floodRatio*f.quietRPS {
			e.l.violation("flood-starvation", "authenticated %.0f req/s during the flood vs %.0f quiet (ratio %.2f < %.2f)",
				f.floodRPS, f.quietRPS, f.floodRPS/f.quietRPS, e.o.floodRatio)
		}
		if e.o.floodLogins > 0 && f.returning > 0 && float64(f.returningFast) < e.o.floodLogins*float64(f.returning) {
			e.l.violation("flood-logins", "%d of %d correct logins of returning users got in within 2 s during the flood", f.returningFast, f.returning)
		}
	}
	e.l.mu.Lock()
	defer e.l.mu.Unlock()
	res.unanswered = map[string]int{}
	for _, r := range e.l.recs {
		res.requests++
		if r.status == http.StatusServiceUnavailable {
			res.s503++
		}
		if unanswered(answer{status: r.status}) {
			res.unanswered[r.kind]++
		}
	}
	res.lost, res.excused, res.evict = e.l.lost, e.l.nExcused, e.l.evicted
	res.viol, res.notes, res.wsClosed, res.t0 = e.l.viol, e.l.notes, e.l.wsClosed, e.l.t0
	return res
}

func (r result) violations() int {
	n := 0
	for _, v := range r.viol {
		n += len(v)
	}
	if r.err != nil {
		n++
	}
	return n
}

// maxima are the table's window figures: the longest 503 window of any
// fault, and the longest recovery after a resume, restart or promotion.
func (r result) maxima() (window, recovery, failover time.Duration, recovered bool) {
	recovered = true
	for _, w := range r.windows {
		window = max(window, w.total)
		if w.ev.failover {
			failover = max(failover, w.recovery)
			recovered = recovered && w.recovered
		} else {
			recovery = max(recovery, w.recovery)
		}
	}
	return
}

// report prints the table and the details; it returns true on any violation.
func report(out io.Writer, o *options, rs []result) bool {
	bad := false
	fmt.Fprintf(out, "\n| scenario | requests | 503 | longest 503 window ms | recovery after resume ms | recovery after promotion ms | sessions lost (explained by data loss) | evicted as told | requests after revocation | violations |\n")
	fmt.Fprintf(out, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		w, rec, fo, ok := r.maxima()
		fos := "–"
		if fo > 0 || !ok {
			fos = fmt.Sprint(fo.Milliseconds())
			if !ok {
				fos = "> " + fos + " (not recovered)"
			}
		}
		fmt.Fprintf(out, "| %s | %d | %d | %d | %d | %s | %d (%d) | %d | %d | %d |\n",
			r.name, r.requests, r.s503, w.Milliseconds(), rec.Milliseconds(), fos, r.lost, r.excused, r.evict, r.after, r.violations())
		bad = bad || r.violations() > 0
	}
	for _, r := range rs {
		details(out, r)
	}
	return bad
}

func details(out io.Writer, r result) {
	fmt.Fprintf(out, "\n## %s\n", r.name)
	if r.err != nil {
		fmt.Fprintf(out, "ERROR: %v\n", r.err)
	}
	for _, w := range r.windows {
		fmt.Fprintf(out, "- t+%5.1fs %-44s fault %6d ms, 503 window %6d ms, recovery after end %6d ms\n",
			w.ev.start.Sub(r.t0).Seconds(), w.ev.name, w.ev.end.Sub(w.ev.start).Milliseconds(), w.total.Milliseconds(), w.recovery.Milliseconds())
	}
	if len(r.unanswered) > 0 {
		var parts []string
		for k, n := range r.unanswered {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(out, "- answered 503 or not at all, by kind: %s\n", strings.Join(parts, ", "))
	}
	if f := r.flood; f != nil {
		ratio := 0.0
		if f.quietRPS > 0 {
			ratio = f.floodRPS / f.quietRPS
		}
		fmt.Fprintf(out, "- flood: %d wrong-password logins sent (%d not sent: 64 in flight), authenticated %.0f req/s quiet → %.0f during (×%.2f), correct logins in within 2 s: returning users %d/%d, new devices %d/%d\n",
			f.sent, f.dropped, f.quietRPS, f.floodRPS, ratio, f.returningFast, f.returning, f.freshFast, f.fresh)
	}
	if len(r.wsClosed) > 0 {
		sort.Slice(r.wsClosed, func(i, j int) bool { return r.wsClosed[i] < r.wsClosed[j] })
		fmt.Fprintf(out, "- WebSockets closed after revocation: %d, slowest %v\n", len(r.wsClosed), r.wsClosed[len(r.wsClosed)-1].Round(time.Millisecond))
	}
	for i := range r.base {
		if i < len(r.end) {
			levels := ""
			if i < len(r.warm) {
				levels = fmt.Sprintf(" (%.0f MiB after the warm-up", r.warm[i].rss/(1<<20))
				if i < len(r.flooded) {
					levels += fmt.Sprintf(", %.0f MiB right after the flood", r.flooded[i].rss/(1<<20))
				}
				levels += ")"
			}
			fmt.Fprintf(out, "- gateway%d: goroutines %.0f → %.0f, RSS %.0f → %.0f MiB%s\n", i,
				r.base[i].goroutines, r.end[i].goroutines, r.base[i].rss/(1<<20), r.end[i].rss/(1<<20), levels)
		}
	}
	for _, n := range r.notes {
		fmt.Fprintf(out, "- %s\n", n)
	}
	kinds := make([]string, 0, len(r.viol))
	for k := range r.viol {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		v := r.viol[k]
		fmt.Fprintf(out, "- VIOLATION %s ×%d\n", k, len(v))
		for _, d := range v[:min(len(v), 5)] {
			fmt.Fprintf(out, "    %s\n", strings.TrimSpace(d))
		}
	}
}
