package app_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// acked counts the acks among a POST's answers and checks the others are rate_limited errors.
func acked(t *testing.T, code int, out []*fd.ServerFrame) int {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("POST status %d", code)
	}
	n := 0
	for _, f := range out {
		switch {
		case f.GetType() == frames.TypeAck:
			n++
		case f.GetType() == frames.TypeError && f.GetCode() == frames.CodeRateLimited:
		default:
			t.Fatalf("unexpected answer %v", f)
		}
	}
	return n
}

// TestRateLimitsHoldOverSSEPost: a POST to /v1/sse without a session (or on a gateway that does
// not hold it) used to build fresh buckets for every request, so nothing limited it. The
// token's and the user's buckets now outlive requests and connections: with one frame a second
// and bursts of two, a flood of sends gets about two acks plus one per second, whether it reuses
// its token, mints a new token per request or mixes WebSocket and POST.
func TestRateLimitsHoldOverSSEPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	const tries = 20
	// allowed is what the buckets may grant in d: the burst, one a second, one for rounding.
	allowed := func(d time.Duration) int { return 2 + int(d.Seconds()) + 1 }
	tests := []struct {
		name  string
		user  string
		token func(i int) string
		ws    bool // spend the burst over WebSocket first
	}{
		{name: "same token", user: "flood1", token: func(int) string { return tok(t, "strict", "flood1", frames.RoleCustomer) }},
		{name: "new token per request", user: "flood2", token: func(i int) string {
			s, err := token.Sign(secret, token.Claims{Subject: "flood2", Tenant: "strict", Role: frames.RoleCustomer},
				time.Hour+time.Duration(i)*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{name: "websocket then post", user: "flood3", ws: true,
			token: func(int) string { return tok(t, "strict", "flood3", frames.RoleCustomer) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			n := 0
			if tc.ws {
				c, _ := g.dial(t, tc.token(0))
				for i := range 2 {
					c.send(text("w"+string(rune('a'+i)), "", "hello"))
					c.await(frames.TypeAck)
				}
				n = 2
			}
			for i := range tries {
				code, out := postFrame(t, g, tc.token(i), "", text("p"+string(rune('a'+i)), "", "flood"))
				n += acked(t, code, out)
			}
			if max := allowed(time.Since(start)); n > max {
				t.Fatalf("%d of %d sends acked in %s, want at most %d", n, tries, time.Since(start), max)
			}
			if n == 0 {
				t.Fatal("nothing acked: the limit refuses everyone")
			}
		})
	}
}
