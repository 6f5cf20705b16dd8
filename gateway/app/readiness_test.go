package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// readyz reads a gateway's /readyz.
func readyz(addr string) (int, ops.ReadyBody, error) {
	var body ops.ReadyBody
	res, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, body, err
	}
	defer res.Body.Close()
	err = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, err
}

func wantReadyz(addr string, code int, status string) func() error {
	return func() error {
		got, body, err := readyz(addr)
		if err != nil {
			return err
		}
		if got != code || body.Status != status {
			return fmt.Errorf("/readyz = %d %+v, want %d %s", got, body, code, status)
		}
		return nil
	}
}

// TestNATSOutageDegradesWithoutUnready: while NATS is away a started gateway stays ready
// (a load balancer keeps it, since every gateway shares the outage) and says what is degraded;
// an open socket keeps its session (ping answered), sends are refused, and once NATS is back
// the same socket sends and is answered again.
func TestNATSOutageDegradesWithoutUnready(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) { c.NATS.ReconnectWait = 50 * time.Millisecond })
	cust, _, conv := setup(t, e, g, "acme", "ro1", "roa")
	testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, wantReadyz(g.OpsAddr(), http.StatusOK, ops.StatusReady))

	e.NATS.Shutdown()
	testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, func() error {
		if err := wantReadyz(g.OpsAddr(), http.StatusOK, ops.StatusDegraded)(); err != nil {
			return err
		}
		_, body, _ := readyz(g.OpsAddr())
		if body.Checks["nats"] == "ok" {
			return fmt.Errorf("degraded but nats reads ok: %+v", body)
		}
		return nil
	})
	cust.Send(&fd.ClientFrame{Type: frames.TypePing})
	cust.Await(frames.TypePong)

	e.NATS.Restart(t)
	testkit.CheckFor(t, 3*apptest.Wait, 20*time.Millisecond, wantReadyz(g.OpsAddr(), http.StatusOK, ops.StatusReady))
	cust.Send(apptest.Text("after", conv, "back again"))
	cust.Await(frames.TypeAck, apptest.HasID("after"))
}

// TestStartWaitsForNATS: a gateway started while NATS is away does not fail: its ops server
// answers 503 naming what is missing, and it finishes starting when NATS comes.
func TestStartWaitsForNATS(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	e.NATS.Shutdown()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsAddr := ln.Addr().String()
	ln.Close()

	type started struct {
		g   *apptest.Gateway
		err error
	}
	done := make(chan started, 1)
	go func() {
		g, err := e.TryGateway(func(c *app.Config) {
			c.Ops.Addr = opsAddr
			c.NATS.ReconnectWait = 50 * time.Millisecond
		})
		done <- started{g, err}
	}()
	testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, func() error {
		code, body, err := readyz(opsAddr)
		if err != nil {
			return err
		}
		if code != http.StatusServiceUnavailable || body.Checks["started"] == "ok" {
			return fmt.Errorf("/readyz while NATS is away = %d %+v", code, body)
		}
		return nil
	})
	e.NATS.Restart(t)
	var s started
	select {
	case s = <-done:
	case <-time.After(4 * apptest.Wait):
		t.Fatal("the gateway did not finish starting once NATS was back")
	}
	if s.err != nil {
		t.Fatalf("start: %v", s.err)
	}
	testkit.CheckFor(t, apptest.Wait, 20*time.Millisecond, wantReadyz(opsAddr, http.StatusOK, ops.StatusReady))
	c, _ := s.g.Dial(t, apptest.Token(t, "acme", "late", frames.RoleCustomer))
	c.Send(&fd.ClientFrame{Type: frames.TypePing})
	c.Await(frames.TypePong)
}
