package session

import (
	"strings"
	"testing"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestSeenThrottle(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	ann := &fd.Contact{Id: "ann", Name: "Ann", Attributes: map[string]string{"plan": "pro", "tier": "1"}}
	type sighting struct {
		tenant, page string
		c            *fd.Contact
		after        time.Duration // since the previous sighting
		want         bool
	}
	for _, tc := range []struct {
		name  string
		every time.Duration
		max   int
		seq   []sighting
	}{
		{"first sighting is recorded, a reconnect within the interval is not", time.Minute, 10, []sighting{
			{"t1", "https://a.example/", ann, 0, true},
			{"t1", "https://a.example/", ann, 30 * time.Second, false},
			{"t1", "https://a.example/", ann, 29 * time.Second, false}, // 59 s after the first
			{"t1", "https://a.example/", ann, time.Second, true},
		}},
		{"a change of page, name, attributes or tenant is recorded at once", time.Minute, 10, []sighting{
			{"t1", "https://a.example/", ann, 0, true},
			{"t1", "https://a.example/cart", ann, time.Second, true},
			{"t1", "https://a.example/cart", &fd.Contact{Id: "ann", Name: "Ann B", Attributes: ann.Attributes}, time.Second, true},
			{"t1", "https://a.example/cart", &fd.Contact{Id: "ann", Name: "Ann B", Attributes: map[string]string{"plan": "gold", "tier": "1"}}, time.Second, true},
			{"t2", "https://a.example/cart", &fd.Contact{Id: "ann", Name: "Ann B", Attributes: map[string]string{"plan": "gold", "tier": "1"}}, time.Second, true},
			{"t2", "https://a.example/cart", &fd.Contact{Id: "ann", Name: "Ann B", Attributes: map[string]string{"tier": "1", "plan": "gold"}}, time.Second, false},
		}},
		{"attribute boundaries are not ambiguous", time.Minute, 10, []sighting{
			{"t1", "", &fd.Contact{Id: "u", Attributes: map[string]string{"a": "bc"}}, 0, true},
			{"t1", "", &fd.Contact{Id: "u", Attributes: map[string]string{"ab": "c"}}, 0, true},
		}},
		{"negative interval records every connection", -1, 10, []sighting{
			{"t1", "", ann, 0, true},
			{"t1", "", ann, 0, true},
		}},
		{"full: the oldest expired go first, then an arbitrary one", time.Minute, 2, []sighting{
			{"t1", "", &fd.Contact{Id: "a"}, 0, true},
			{"t1", "", &fd.Contact{Id: "b"}, 0, true},
			{"t1", "", &fd.Contact{Id: "c"}, 0, true}, // evicts a or b
			{"t1", "", &fd.Contact{Id: "c"}, time.Second, false},
			{"t1", "", &fd.Contact{Id: "d"}, time.Minute, true}, // all expired: swept
			{"t1", "", &fd.Contact{Id: "d"}, 0, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := newSeenThrottle(tc.every, tc.max)
			now := t0
			for i, s := range tc.seq {
				now = now.Add(s.after)
				if got := th.due(s.tenant, s.page, s.c, now); got != s.want {
					t.Fatalf("sighting %d (%+v): due %v, want %v", i, s, got, s.want)
				}
				if len(th.last) > tc.max {
					t.Fatalf("sighting %d: %d remembered, bound %d", i, len(th.last), tc.max)
				}
			}
		})
	}
	if th := newSeenThrottle(0, 1); th.every != DefaultContactSeenEvery {
		t.Fatalf("zero interval gives %s, want the default", th.every)
	}
}

func TestContactPage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://shop.example/cart", "https://shop.example/cart"},
		{"https://shop.example/cart?token=SECRET&q=shoes#pay", "https://shop.example/cart"},
		{"http://127.0.0.1:8000/", "http://127.0.0.1:8000/"},
		{"https://shop.example/?", "https://shop.example/"},
		{"https://shop.example/%E8%B4%AD%E7%89%A9", "https://shop.example/%E8%B4%AD%E7%89%A9"},
		{"", ""},
		{"javascript:alert(1)", ""},
		{"data:text/html,hi", ""},
		{"/relative/path", ""},
		{"https://user:pass@shop.example/", ""},
		{"ftp://shop.example/", ""},
		{"https:///nohost", ""},
		{"https://shop.example/" + strings.Repeat("a", maxPageBytes), ""},
		{"%zz", ""},
	} {
		if got := ContactPage(tc.in); got != tc.want {
			t.Errorf("ContactPage(%.60q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
