// Package hours evaluates a tenant's weekly business hours in its time zone.
package hours

import (
	"fmt"
	"strings"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

var days = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// Open reports whether now falls inside h. No hours, or no windows, means always open. A window
// whose close is not after its open runs past midnight into the next day (22:00-02:00), and
// "24:00" closes at the end of the day. Days name the day a window opens on.
func Open(h *fd.BusinessHours, now time.Time) (bool, error) {
	if h == nil || len(h.GetWindows()) == 0 {
		return true, nil
	}
	loc := time.UTC
	if tz := h.GetTimeZone(); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return true, fmt.Errorf("hours time zone %q: %w", tz, err)
		}
		loc = l
	}
	local := now.In(loc)
	minute := local.Hour()*60 + local.Minute()
	today := local.Weekday()
	yesterday := (today + 6) % 7
	for _, w := range h.GetWindows() {
		open, err := clock(w.GetOpen())
		if err != nil {
			return true, err
		}
		closeAt, err := clock(w.GetClose())
		if err != nil {
			return true, err
		}
		for _, d := range w.GetDays() {
			wd, ok := days[strings.ToLower(strings.TrimSpace(d))[:min(3, len(strings.TrimSpace(d)))]]
			if !ok {
				return true, fmt.Errorf("hours day %q: want mon..sun", d)
			}
			if closeAt > open {
				if wd == today && minute >= open && minute < closeAt {
					return true, nil
				}
				continue
			}
			// Overnight: from open to midnight on wd, then midnight to close on wd+1.
			if (wd == today && minute >= open) || (wd == yesterday && minute < closeAt) {
				return true, nil
			}
		}
	}
	return false, nil
}

// clock parses HH:MM into minutes after midnight (24:00 allowed).
func clock(s string) (int, error) {
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("hours time %q: want HH:MM", s)
	}
	return h*60 + m, nil
}
