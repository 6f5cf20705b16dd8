package hours

import (
	"testing"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	weekdays := &fd.HoursWindow{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Open: "09:00", Close: "17:00"}
	night := &fd.HoursWindow{Days: []string{"sat"}, Open: "22:00", Close: "02:00"}
	paris := &fd.BusinessHours{TimeZone: "Europe/Paris", Windows: []*fd.HoursWindow{weekdays, night}}
	// 2026-01-05 is a Monday; Paris is UTC+1 in January.
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name string
		h    *fd.BusinessHours
		now  string
		want bool
	}{
		{name: "no hours", h: nil, now: "2026-01-05T03:00:00Z", want: true},
		{name: "no windows", h: &fd.BusinessHours{TimeZone: "Asia/Shanghai"}, now: "2026-01-05T03:00:00Z", want: true},
		{name: "monday 10:00 paris", h: paris, now: "2026-01-05T09:00:00Z", want: true},
		{name: "monday 08:30 paris (07:30 utc)", h: paris, now: "2026-01-05T07:30:00Z", want: false},
		{name: "monday 08:30 utc is 09:30 paris", h: paris, now: "2026-01-05T08:30:00Z", want: true},
		{name: "close is exclusive", h: paris, now: "2026-01-05T16:00:00Z", want: false},
		{name: "sunday", h: paris, now: "2026-01-04T12:00:00Z", want: false},
		{name: "saturday 23:00 overnight", h: paris, now: "2026-01-10T22:00:00Z", want: true},
		{name: "sunday 01:30 overnight tail", h: paris, now: "2026-01-11T00:30:00Z", want: true},
		{name: "sunday 02:30 closed", h: paris, now: "2026-01-11T01:30:00Z", want: false},
		{name: "24:00 close", h: &fd.BusinessHours{Windows: []*fd.HoursWindow{{Days: []string{"Monday"}, Open: "20:00", Close: "24:00"}}}, now: "2026-01-05T23:59:00Z", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Open(tt.h, at(tt.now))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Open = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := Open(&fd.BusinessHours{TimeZone: "Mars/Olympus", Windows: []*fd.HoursWindow{weekdays}}, at("2026-01-05T09:00:00Z")); err == nil {
		t.Fatal("bad zone accepted")
	}
}
