package app_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
)

// announcements follows the user's Session subject as the gateways see it.
type announcements struct {
	t  testing.TB
	ch chan *nats.Msg
}

func watchAnnouncements(e *apptest.Env, tenant, user string) *announcements {
	return &announcements{t: e.T, ch: e.Sub(subjects.Session(tenant, user))}
}

// await waits for an announcement of session with the given online flag. Once the test has it,
// so do the gateways' subscriptions (the server sends it to all of them), and what a gateway
// publishes afterwards reaches them after it.
func (a *announcements) await(session string, online bool) {
	a.t.Helper()
	deadline := time.After(apptest.Wait)
	for {
		p, ok := a.next(deadline)
		if !ok {
			a.t.Fatalf("no announcement of %s (online %v)", session, online)
		}
		if p.GetSession() == session && p.GetOnline() == online {
			return
		}
	}
}

// noGoodbye asserts that no goodbye of session is published for d.
func (a *announcements) noGoodbye(session string, d time.Duration) {
	a.t.Helper()
	deadline := time.After(d)
	for {
		p, ok := a.next(deadline)
		if !ok {
			return
		}
		if p.GetSession() == session && !p.GetOnline() {
			a.t.Fatalf("%s said goodbye: the gateway was not cut off", session)
		}
	}
}

// next is the next announcement, or false once deadline has fired.
func (a *announcements) next(deadline <-chan time.Time) (*fd.SessionPresence, bool) {
	a.t.Helper()
	select {
	case m := <-a.ch:
		p := &fd.SessionPresence{}
		if err := proto.Unmarshal(m.Data, p); err != nil {
			a.t.Fatal(err)
		}
		return p, true
	case <-deadline:
		return nil, false
	}
}

// alive asserts the connection is still served: it stays open a moment (long enough for an
// announcement already delivered to its gateway to take effect) and answers a ping.
func alive(c *apptest.Client) {
	c.T.Helper()
	c.Quiet("none", 300*time.Millisecond)
	select {
	case <-c.Done:
		c.T.Fatalf("connection closed (%v)", c.Err())
	default:
	}
	c.Send(&fd.ClientFrame{Type: frames.TypePing})
	c.Await(frames.TypePong)
}

func metricsOf(t *testing.T, g *apptest.Gateway) string {
	t.Helper()
	resp, err := http.Get("http://" + g.OpsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func withPresenceTTL(d time.Duration) func(*app.Config) {
	return func(c *app.Config) { c.Gateway.PresenceTTL = d }
}

// TestConnectionLimitAcrossGateways: the tenant's max_connections_per_user (2 for tiny) holds
// across two gateways on one NATS: the oldest sessions close with 4003 and are counted; a
// goodbye frees a place at once, a live session keeps counting for as long as it lives, and
// the sessions of a gateway that dies without goodbyes stop counting after the presence ttl.
func TestConnectionLimitAcrossGateways(t *testing.T) {
	t.Parallel()
	t.Run("oldest closed with 4003", func(t *testing.T) {
		t.Parallel()
		e := apptest.NewEnv(t)
		ga, gb := e.Gateway(), e.Gateway()
		k := apptest.Token(t, "tiny", "lim1", frames.RoleCustomer)
		a1, _ := ga.Dial(t, k)
		a2, _ := ga.Dial(t, k)
		// Gateway A alone still refuses a third before the upgrade.
		if _, resp, _ := ga.DialRaw(t, k, apptest.DialOpts{}); resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection on one gateway: %v, want 429", resp)
		}
		b1, _ := gb.Dial(t, k)
		if code := a1.Closed(); code != frames.CloseTooManyConnections {
			t.Fatalf("oldest session: close = %d, want 4003", code)
		}
		alive(a2)
		alive(b1)
		// A place is free on A again; the oldest is now a2.
		a3, _ := ga.Dial(t, k)
		if code := a2.Closed(); code != frames.CloseTooManyConnections {
			t.Fatalf("next oldest: close = %d, want 4003", code)
		}
		alive(b1)
		alive(a3)
		if m := metricsOf(t, ga); !strings.Contains(m, `frontdesk_gateway_sessions_evicted_total{reason="too_many_connections"} 2`) {
			t.Errorf("gateway A's metrics lack 2 evictions:\n%s", grepLines(m, "evicted"))
		}
		if m := metricsOf(t, gb); strings.Contains(m, `frontdesk_gateway_sessions_evicted_total{`) {
			t.Errorf("gateway B evicted a session:\n%s", grepLines(m, "evicted"))
		}
	})
	t.Run("a goodbye frees the place at once", func(t *testing.T) {
		t.Parallel()
		e := apptest.NewEnv(t)
		ga, gb := e.Gateway(), e.Gateway()
		ann := watchAnnouncements(e, "tiny", "lim2")
		k := apptest.Token(t, "tiny", "lim2", frames.RoleCustomer)
		a1, _ := ga.Dial(t, k)
		b1, w := gb.Dial(t, k)
		_ = b1.Conn.Close(1000, "bye")
		ann.await(w.GetSession(), false)
		_, w2 := ga.Dial(t, k)
		ann.await(w2.GetSession(), true)
		alive(a1)
	})
	t.Run("a live session keeps counting past the ttl", func(t *testing.T) {
		t.Parallel()
		const ttl = 6 * time.Second
		e := apptest.NewEnv(t)
		ga, gb := e.Gateway(withPresenceTTL(ttl)), e.Gateway(withPresenceTTL(ttl))
		k := apptest.Token(t, "tiny", "lim3", frames.RoleCustomer)
		a1, _ := ga.Dial(t, k)
		b1, _ := gb.Dial(t, k)
		// Without its repeated announcements b1 would be forgotten by now: time has to pass
		// past the ttl to show that it is not (a window, not a condition to wait for).
		time.Sleep(ttl + 2*time.Second)
		ga.Dial(t, k)
		if code := a1.Closed(); code != frames.CloseTooManyConnections {
			t.Fatalf("oldest session: close = %d, want 4003", code)
		}
		alive(b1)
	})
	t.Run("a dead gateway's sessions stop counting after the ttl", func(t *testing.T) {
		t.Parallel()
		const ttl = 3 * time.Second
		e := apptest.NewEnv(t)
		ga, gb := e.Gateway(withPresenceTTL(ttl)), e.Gateway(withPresenceTTL(ttl))
		ann := watchAnnouncements(e, "tiny", "lim4")
		k := apptest.Token(t, "tiny", "lim4", frames.RoleCustomer)
		a1, _ := ga.Dial(t, k)
		_, w := gb.Dial(t, k)
		ann.await(w.GetSession(), true)
		// Gateway B dies: cut off from NATS first, so its sessions end without a goodbye.
		gb.NATSConn().Close()
		gb.Stop()
		// b1 was last heard before the cut; after the ttl it no longer counts.
		ann.noGoodbye(w.GetSession(), ttl+time.Second)
		_, w2 := ga.Dial(t, k)
		ann.await(w2.GetSession(), true)
		alive(a1)
	})
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestVisitorRateLimit: POST /v1/visitors is limited per client address (token bucket, 429
// with Retry-After, counted); X-Forwarded-For is believed only from a trusted proxy, and only
// its last untrusted hop.
func TestVisitorRateLimit(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	limited := func(proxies ...string) func(*app.Config) {
		return func(c *app.Config) {
			c.Gateway.VisitorRate = 6 // one token every 10 s: nothing refills during the test
			c.Gateway.VisitorBurst = 2
			c.Gateway.TrustedProxies = proxies
		}
	}
	// The test's requests come from 127.0.0.1: as a proxy to one gateway, as a client to the other.
	behindProxy := e.Gateway(limited("127.0.0.1/32"))
	direct := e.Gateway(limited())
	type req struct {
		xff  string // X-Forwarded-For, "" for none
		want int
	}
	tests := []struct {
		name string
		g    *apptest.Gateway
		reqs []req
	}{
		{"behind a trusted proxy: one bucket per forwarded client", behindProxy, []req{
			{"198.51.100.1", 200}, {"198.51.100.1", 200}, {"198.51.100.1", 429},
			{"198.51.100.2", 200}, {"198.51.100.2", 200}, {"198.51.100.2", 429},
		}},
		{"hops the client wrote are not believed", behindProxy, []req{
			{"1.1.1.1, 198.51.100.3", 200}, {"2.2.2.2, 198.51.100.3", 200}, {"3.3.3.3, 198.51.100.3", 429},
		}},
		{"an IPv6 client counts by its /64", behindProxy, []req{
			{"2001:db8:5:6::1", 200}, {"2001:db8:5:6::2", 200}, {"2001:db8:5:6:ffff::3", 429}, {"2001:db8:5:7::1", 200},
		}},
		{"no trusted proxy: the header is ignored", direct, []req{
			{"198.51.100.4", 200}, {"198.51.100.5", 200}, {"198.51.100.6", 429}, {"", 429},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for i, r := range tc.reqs {
				hr, err := http.NewRequest(http.MethodPost, tc.g.URL+"/v1/visitors", strings.NewReader(`{"tenant":"acme"}`))
				if err != nil {
					t.Fatal(err)
				}
				hr.Header.Set("Origin", "https://shop.acme.com")
				if r.xff != "" {
					hr.Header.Set("X-Forwarded-For", r.xff)
				}
				resp, err := http.DefaultClient.Do(hr)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != r.want {
					t.Fatalf("request %d (X-Forwarded-For %q): %d, want %d", i, r.xff, resp.StatusCode, r.want)
				}
				if r.want == http.StatusTooManyRequests {
					if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
						t.Fatalf("Retry-After = %q, want 1 to 10 seconds", resp.Header.Get("Retry-After"))
					}
					if resp.Header.Get("Access-Control-Allow-Origin") == "" ||
						!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After") {
						t.Fatalf("a browser could not read the refusal: %v", resp.Header)
					}
				}
			}
		})
	}
	for _, g := range []struct {
		g    *apptest.Gateway
		want int
	}{{behindProxy, 4}, {direct, 2}} {
		m := metricsOf(t, g.g)
		for _, line := range []string{`frontdesk_gateway_auth_failures_total{reason="visitor_rate"} `, `frontdesk_gateway_rate_limited_total{scope="visitor"} `} {
			if !strings.Contains(m, line+strconv.Itoa(g.want)) {
				t.Errorf("metrics lack %s%d:\n%s", line, g.want, grepLines(m, "visitor"))
			}
		}
	}
}

// TestVisitorName: a visitor's name is cleaned and cut to 64 characters, never inside one.
func TestVisitorName(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	tests := []struct {
		name, in, want string
	}{
		{"short", "Zoe", "Zoe"},
		{"ASCII over 64", strings.Repeat("a", 80), strings.Repeat("a", 64)},
		{"two-byte characters over 64", strings.Repeat("é", 70), strings.Repeat("é", 64)},
		{"64 bytes would cut a character", "ab" + strings.Repeat("王", 30), "ab" + strings.Repeat("王", 30)},
		{"four-byte characters over 64", strings.Repeat("😀", 65), strings.Repeat("😀", 64)},
		{"control characters dropped", "Zo\x00e\x07", "Zoe"},
	}
	keys, err := token.ParseKeys([]byte(apptest.TestKeys))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(map[string]string{"tenant": "acme", "name": tc.in})
			resp, err := http.Post(g.URL+"/v1/visitors", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, %v", resp.StatusCode, err)
			}
			c := &token.Claims{}
			if _, err := jwt.ParseWithClaims(out["token"], c, keys.Keyfunc); err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(c.Name) || c.Name != tc.want {
				t.Fatalf("name = %q, want %q", c.Name, tc.want)
			}
		})
	}
}

// TestVisitorSettingsFromEnv: the visitor limit's settings load from the environment, the
// proxies as a comma-separated list.
func TestVisitorSettingsFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		rate    float64
		burst   int
		proxies []string
	}{
		{"defaults", nil, 60, 30, nil},
		{"set", map[string]string{"FRONTDESK_GATEWAY_VISITOR_RATE": "12.5", "FRONTDESK_GATEWAY_VISITOR_BURST": "4",
			"FRONTDESK_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}, 12.5, 4, []string{"10.0.0.0/8", "192.0.2.7"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := app.DefaultConfig()
			env := map[string]string{"FRONTDESK_GATEWAY_SIGNING_KEYS": apptest.TestKeys}
			for k, v := range tc.env {
				env[k] = v
			}
			if err := config.Load("", func(k string) string { return env[k] }, &cfg); err != nil {
				t.Fatal(err)
			}
			g := cfg.Gateway
			if g.VisitorRate != tc.rate || g.VisitorBurst != tc.burst || strings.Join(g.TrustedProxies, " ") != strings.Join(tc.proxies, " ") {
				t.Fatalf("rate %v burst %d proxies %q, want %v %d %q", g.VisitorRate, g.VisitorBurst, g.TrustedProxies, tc.rate, tc.burst, tc.proxies)
			}
		})
	}
}
