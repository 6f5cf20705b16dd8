package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestHandshakesBeyondTheBoundAreRefused: with every handshake slot taken (here the one slot, by
// a customer whose tenant's key set is slow to come), a WebSocket upgrade or an SSE stream that
// waits its handshake_wait for a slot is refused (an upgrade closed with 1013, a stream with 503
// and Retry-After) rather than queued without end; once the slot is free, the held upgrade completes and the next one opens.
func TestHandshakesBeyondTheBoundAreRefused(t *testing.T) {
	t.Parallel()
	// refused opens a session with every slot taken and checks the refusal.
	tests := []struct {
		name    string
		refused func(t *testing.T, g *apptest.Gateway, tok string)
	}{
		// Accepted and closed with 1013: a browser cannot read a refused upgrade's status and
		// would take a 503 for a network that blocks WebSocket.
		{"websocket upgrade", func(t *testing.T, g *apptest.Gateway, tok string) {
			c, resp, err := g.DialRaw(t, tok, apptest.DialOpts{})
			if err != nil || resp == nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade with every slot taken: %v, %v; want 101 then close 1013", resp, err)
			}
			defer func() { _ = c.CloseNow() }()
			ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
			defer cancel()
			if _, _, err := c.Read(ctx); websocket.CloseStatus(err) != frames.CloseTryAgainLater {
				t.Fatalf("upgrade with every slot taken: read %v, want close %d", err, frames.CloseTryAgainLater)
			}
		}},
		{"sse stream", func(t *testing.T, g *apptest.Gateway, tok string) {
			ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/v1/sse?token="+tok, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("stream with every slot taken: status %d, Retry-After %q (%s), want 503 with Retry-After",
					resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(body)))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := apptest.NewEnv(t)
			// The tenant's key set is served only when the test says: the first customer's
			// upgrade holds its slot while it waits for it.
			iss := newIssuer(t, "https://slow.example")
			asked, release := make(chan struct{}, 1), make(chan struct{})
			slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case asked <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(iss.jwks())
			}))
			t.Cleanup(slow.Close)
			released := false
			free := func() {
				if !released {
					released = true
					close(release)
				}
			}
			t.Cleanup(free) // before slow.Close: a failed test must not leave the handler waiting
			seedTenants(t, e, []*fd.Tenant{{Id: "slow", Name: "Slow",
				CustomerIssuers: []*fd.CustomerIssuer{{Issuer: iss.iss, Audience: "frontdesk", JwksUrl: slow.URL, MaxLifetimeS: 3600}}}})
			g := e.Gateway(func(c *app.Config) {
				c.Gateway.MaxHandshakes = 1
				// Short: this test waits it out once, for the refusal.
				c.Gateway.HandshakeWait = 50 * time.Millisecond
			})

			type dialed struct {
				status int
				err    error
			}
			held := make(chan dialed, 1)
			go func() {
				c, resp, err := g.DialRaw(t, iss.sign(iss.customerClaims("alice"))+"&tenant=slow", apptest.DialOpts{})
				d := dialed{err: err}
				if resp != nil {
					d.status = resp.StatusCode
				}
				if c != nil {
					_, _, d.err = c.Read(context.Background()) // the welcome
					_ = c.CloseNow()
				}
				held <- d
			}()
			select {
			case <-asked:
			case <-time.After(apptest.Wait):
				t.Fatal("the first upgrade never asked for the tenant's key set")
			}

			tc.refused(t, g, apptest.Token(t, "acme", "bob", frames.RoleCustomer))

			free()
			if d := <-held; d.err != nil || d.status != http.StatusSwitchingProtocols {
				t.Fatalf("the upgrade holding the slot: status %d, %v; want 101 and its welcome", d.status, d.err)
			}
			if _, w := g.Dial(t, apptest.Token(t, "acme", "bob", frames.RoleCustomer)); w.GetUser() != "bob" {
				t.Fatalf("welcome after the slot came free = %v", w)
			}
		})
	}
}
