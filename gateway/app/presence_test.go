package app_test

import (
	"testing"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestPresenceOnlyForAgents: the gateway publishes presence heartbeats and goodbyes for agents'
// sessions only, the ones the dispatcher (the subject's one consumer) counts. The session's
// goodbye on its user's Session subject comes after its presence goodbye, from the same NATS
// connection, so by then every presence the session made has arrived.
func TestPresenceOnlyForAgents(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	tests := []struct {
		name string
		role string
		want bool // an online presence first and a goodbye last (heartbeats may come between)
	}{
		{"customer", frames.RoleCustomer, false},
		{"supervisor", frames.RoleSupervisor, false},
		{"agent", frames.RoleAgent, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user := "pr_" + tc.name
			// One channel for both subjects keeps the order the gateway published in.
			ch := make(chan *nats.Msg, 100)
			for _, subj := range []string{subjects.Presence("acme", user), subjects.Session("acme", user)} {
				s, err := e.NC.ChanSubscribe(subj, ch)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Unsubscribe() })
			}
			if err := e.NC.Flush(); err != nil {
				t.Fatal(err)
			}
			c, w := g.Dial(t, apptest.Token(t, "acme", user, tc.role))
			_ = c.Conn.Close(websocket.StatusNormalClosure, "")
			var got []bool
			for {
				var msg *nats.Msg
				select {
				case msg = <-ch:
				case <-t.Context().Done():
					t.Fatal("no goodbye")
				}
				var p fd.SessionPresence
				if err := proto.Unmarshal(msg.Data, &p); err != nil {
					t.Fatal(err)
				}
				if msg.Subject == subjects.Presence("acme", user) {
					got = append(got, p.GetOnline())
					continue
				}
				if p.GetSession() == w.GetSession() && !p.GetOnline() {
					break // the session's goodbye on its Session subject
				}
			}
			if ok := len(got) >= 2 && got[0] && !got[len(got)-1]; ok != tc.want || !tc.want && len(got) > 0 {
				t.Fatalf("%s session's presences (online?) = %v", tc.role, got)
			}
		})
	}
}
