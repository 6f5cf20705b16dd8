package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestConnLimiterReleasesUpgradedConnections: a WebSocket connection counts until it closes,
// whichever side closes it; after many short sessions from one address, the count is back to
// nothing and the address is not refused.
func TestConnLimiterReleasesUpgradedConnections(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim := LimitConns(ln, 1000, 20, nil, nil)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.Write(r.Context(), websocket.MessageText, []byte("welcome"))
		_, _, _ = c.Read(r.Context()) // until the client goes
	})}
	go func() { _ = srv.Serve(lim) }()
	t.Cleanup(func() { _ = srv.Close() })
	for i := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
		if err != nil {
			cancel()
			t.Fatalf("connection %d refused: %v (open %d)", i, err, lim.Open())
		}
		_, _, _ = c.Read(ctx)
		if i%2 == 0 {
			_ = c.CloseNow()
		} else {
			_ = c.Close(websocket.StatusNormalClosure, "")
		}
		cancel()
	}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n := lim.Open(); n != 0 {
			return fmt.Errorf("%d connections still counted", n)
		}
		return nil
	})
}
