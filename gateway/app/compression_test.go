package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestCompressionPerTenant: a tenant with compression on negotiates permessage-deflate with a
// client that offers it, and frames round-trip compressed (a long repetitive message arrives
// whole); a tenant without it never negotiates the extension, whatever the client offers.
func TestCompressionPerTenant(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	seedTenants(t, e, []*fd.Tenant{
		{Id: "zipped", Name: "Zipped", Compression: true},
		{Id: "plain", Name: "Plain"},
	})
	g := e.Gateway()
	tests := []struct {
		tenant string
		offer  bool
		want   bool // permessage-deflate in the handshake's answer
	}{
		{"zipped", true, true},
		{"zipped", false, false},
		{"plain", true, false},
		{"plain", false, false},
	}
	for i, tc := range tests {
		user, id := fmt.Sprint("u", i), fmt.Sprint("z", i)
		t.Run(tc.tenant+map[bool]string{true: " offered", false: " not offered"}[tc.offer], func(t *testing.T) {
			mode := websocket.CompressionDisabled
			if tc.offer {
				mode = websocket.CompressionContextTakeover
			}
			ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
			defer cancel()
			url := strings.Replace(g.URL, "http", "ws", 1) + "/v1/ws?token=" + apptest.Token(t, tc.tenant, user, frames.RoleCustomer)
			c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{frames.SubprotocolJSON},
				CompressionMode: mode, CompressionThreshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", resp.StatusCode)
			}
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if got := strings.Contains(ext, "permessage-deflate"); got != tc.want {
				t.Fatalf("Sec-WebSocket-Extensions = %q, want permessage-deflate %v", ext, tc.want)
			}
			cl := apptest.NewClient(t, c, false)
			if w := cl.Next(); w.GetType() != frames.TypeWelcome {
				t.Fatalf("first frame %v", w)
			}
			text := strings.Repeat("compress me ", 300)
			cl.Send(&fd.ClientFrame{Type: frames.TypeSend, Id: id, Kind: frames.KindText, Text: text})
			ack := cl.Await(frames.TypeAck)
			echo := cl.Await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetClientId() == id })
			if ack.GetSeq() == 0 || echo.GetText() != text {
				t.Fatalf("round trip: ack %v, echo of %d bytes", ack, len(echo.GetText()))
			}
		})
	}
}
