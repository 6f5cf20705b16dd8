package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// setup opens a conversation for customer and assigns it to agent.
func setup(t *testing.T, e *apptest.Env, g *apptest.Gateway, tenant, customer, agent string) (cust, ag *apptest.Client, conv string) {
	t.Helper()
	cust, _ = g.Dial(t, apptest.Token(t, tenant, customer, frames.RoleCustomer))
	ag, _ = g.Dial(t, apptest.Token(t, tenant, agent, frames.RoleAgent))
	cust.Send(apptest.Text("open", "", "hello"))
	conv = cust.Await(frames.TypeAck, apptest.HasID("open")).GetConv()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	if err := dispatchertest.Assign(ctx, e.NC, e.JS, tenant, conv, &fd.Participant{Id: agent, Role: frames.RoleAgent, Name: "Agent"}); err != nil {
		t.Fatal(err)
	}
	ag.Await(frames.TypeAssigned, apptest.InConv(conv))
	cust.Await(frames.TypeAssigned, apptest.InConv(conv))
	return cust, ag, conv
}

// TestClientFrames covers every client frame type and what it does on NATS.
func TestClientFrames(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust, ag, conv := setup(t, e, g, "acme", "fc1", "fa1")

	t.Run("ping", func(t *testing.T) {
		cust.Send(&fd.ClientFrame{Type: frames.TypePing})
		cust.Await(frames.TypePong)
	})
	t.Run("typing", func(t *testing.T) {
		cust.Send(&fd.ClientFrame{Type: frames.TypeTyping, Conv: conv})
		if f := ag.Await(frames.TypeTyping); f.GetConv() != conv || f.GetFrom().GetId() != "fc1" {
			t.Fatalf("typing = %v", f)
		}
		cust.Quiet(frames.TypeTyping, 100*time.Millisecond) // not echoed to the typist
	})
	t.Run("read", func(t *testing.T) {
		reads := e.Sub(subjects.AllReads())
		ag.Send(&fd.ClientFrame{Type: frames.TypeRead, Conv: conv, Seq: apptest.I64(1)})
		if f := cust.Await(frames.TypeRead); f.GetConv() != conv || f.GetSeq() != 1 || f.GetFrom().GetId() != "fa1" {
			t.Fatalf("read = %v", f)
		}
		var rp fd.ReadPosition
		apptest.Recv(t, reads, &rp)
		if rp.GetUser().GetId() != "fa1" || rp.GetSeq() != 1 {
			t.Fatalf("read position = %v", &rp)
		}
	})
	cmds := e.Sub(subjects.AllCommands())
	command := func(t *testing.T, c *apptest.Client, f *fd.ClientFrame, typ string) *fd.Command {
		t.Helper()
		c.Send(f)
		if a := c.Await(frames.TypeAck, apptest.HasID(f.GetId())); f.GetConv() != "" && a.GetConv() != f.GetConv() {
			t.Fatalf("ack = %v", a)
		}
		var cmd fd.Command
		apptest.Recv(t, cmds, &cmd)
		if cmd.GetType() != typ || cmd.GetTenant() != "acme" {
			t.Fatalf("command = %v", &cmd)
		}
		return &cmd
	}
	t.Run("handoff", func(t *testing.T) {
		cmd := command(t, cust, &fd.ClientFrame{Type: frames.TypeHandoff, Id: "h1", Conv: conv}, "handoff")
		if cmd.GetConv() != conv || cmd.GetActor().GetId() != "fc1" || cmd.GetReason() != "customer" {
			t.Fatalf("handoff = %v", cmd)
		}
	})
	t.Run("leave_message and to_bot", func(t *testing.T) {
		cust.Send(&fd.ClientFrame{Type: frames.TypeLeaveMessage, Id: "lm1", Conv: conv, Text: "call me\x07 back"})
		if a := cust.Await(frames.TypeAck, apptest.HasID("lm1")); a.GetConv() != conv || a.Seq != nil {
			t.Fatalf("leave_message ack = %v", a)
		}
		cmd := &fd.Command{}
		apptest.Recv(t, cmds, cmd)
		if cmd.GetType() != "leave_message" || cmd.GetConv() != conv || cmd.GetText() != "call me back" ||
			cmd.GetActor().GetId() != "fc1" || cmd.GetCustomer().GetId() != "fc1" {
			t.Fatalf("leave_message = %v", cmd)
		}
		cmd = command(t, cust, &fd.ClientFrame{Type: frames.TypeToBot, Id: "tb1", Conv: conv}, "to_bot")
		if cmd.GetConv() != conv || cmd.GetText() != "" {
			t.Fatalf("to_bot = %v", cmd)
		}
		for _, typ := range []string{frames.TypeLeaveMessage, frames.TypeToBot} {
			ag.Send(&fd.ClientFrame{Type: typ, Id: "ag-" + typ, Conv: conv})
			if f := ag.Await(frames.TypeError, apptest.HasID("ag-"+typ)); f.GetCode() != frames.CodeForbidden {
				t.Fatalf("agent %s = %v", typ, f)
			}
		}
	})
	t.Run("status", func(t *testing.T) {
		cmd := command(t, ag, &fd.ClientFrame{Type: frames.TypeStatus, Id: "st1", Status: frames.StatusAvailable}, "status")
		if cmd.GetStatus() != frames.StatusAvailable || cmd.GetMaxChats() != 3 || cmd.GetActor().GetId() != "fa1" {
			t.Fatalf("status = %v", cmd)
		}
	})
	t.Run("transfer", func(t *testing.T) {
		cmd := command(t, ag, &fd.ClientFrame{Type: frames.TypeTransfer, Id: "tr1", Conv: conv, ToQueue: "billing"}, "transfer")
		if cmd.GetToQueue() != "billing" || cmd.GetConv() != conv {
			t.Fatalf("transfer = %v", cmd)
		}
	})
	t.Run("accept and decline", func(t *testing.T) {
		command(t, ag, &fd.ClientFrame{Type: frames.TypeAccept, Id: "ac1", Conv: conv}, "accept")
		command(t, ag, &fd.ClientFrame{Type: frames.TypeDecline, Id: "de1", Conv: conv}, "decline")
	})
	t.Run("close", func(t *testing.T) {
		cmd := command(t, ag, &fd.ClientFrame{Type: frames.TypeClose, Id: "cl1", Conv: conv}, "close")
		if cmd.GetConv() != conv {
			t.Fatalf("close = %v", cmd)
		}
	})
	t.Run("history", func(t *testing.T) {
		e.Persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
			if req.GetConv() != conv || req.GetBefore() != 10 || req.GetLimit() != 2 {
				return &fd.HistoryReply{Error: "unexpected request"}
			}
			return &fd.HistoryReply{More: true, Messages: []*fd.StoredMessage{
				{Seq: 3, Message: &fd.Message{Id: "m_3", Conv: conv, Text: "three"}},
				{Seq: 4, Message: &fd.Message{Id: "m_4", Conv: conv, Text: "four", CreatedAt: timestamppb.Now()}}}}
		})
		cust.Send(&fd.ClientFrame{Type: frames.TypeHistory, Id: "hi", Conv: conv, Before: apptest.I64(10), Limit: proto.Int32(2)})
		h := cust.Await(frames.TypeHistory)
		if h.GetConv() != conv || !h.GetMore() || len(h.GetMessages()) != 2 || h.GetMessages()[1].GetText() != "four" ||
			h.GetMessages()[0].GetSeq() != 3 {
			t.Fatalf("history = %v", h)
		}
	})
	t.Run("assist", func(t *testing.T) {
		s, _ := e.NC.Subscribe(subjects.Assist("acme", conv), func(m *nats.Msg) {
			b, _ := proto.Marshal(&fd.AssistReply{Text: "Try turning it off and on"})
			_ = m.Respond(b)
		})
		defer s.Unsubscribe()
		_ = e.NC.Flush()
		ag.Send(&fd.ClientFrame{Type: frames.TypeAssist, Id: "as", Conv: conv})
		if f := ag.Await(frames.TypeSuggestion); f.GetText() != "Try turning it off and on" {
			t.Fatalf("suggestion = %v", f)
		}
	})
}

// TestDispatcherFrames: what the dispatcher publishes becomes frames for the right sessions.
func TestDispatcherFrames(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust, ag, conv := setup(t, e, g, "acme", "dc1", "da1")
	sup, _ := g.Dial(t, apptest.Token(t, "acme", "boss", frames.RoleSupervisor))
	pub := func(subject string, m proto.Message) {
		t.Helper()
		b, _ := proto.Marshal(m)
		if err := e.NC.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("queued", func(t *testing.T) {
		pub(subjects.User("acme", "dc1"), &fd.ServerFrame{Type: frames.TypeQueued, Conv: conv, Position: proto.Int32(2), EtaS: proto.Int32(60)})
		if f := cust.Await(frames.TypeQueued); f.GetPosition() != 2 || f.GetEtaS() != 60 {
			t.Fatalf("queued = %v", f)
		}
	})
	t.Run("notice, offer and suggestion", func(t *testing.T) {
		pub(subjects.User("acme", "dc1"), &fd.ServerFrame{Type: frames.TypeNotice, Conv: conv, Reason: "outside_hours",
			Actions: []string{frames.ActionLeaveMessage}})
		if f := cust.Await(frames.TypeNotice); f.GetReason() != "outside_hours" || f.GetActions()[0] != frames.ActionLeaveMessage {
			t.Fatalf("notice = %v", f)
		}
		pub(subjects.User("acme", "da1"), &fd.ServerFrame{Type: frames.TypeOffer, Conv: "c_OFFERED000000000000", EtaS: proto.Int32(20)})
		if f := ag.Await(frames.TypeOffer); f.GetEtaS() != 20 {
			t.Fatalf("offer = %v", f)
		}
		pub(subjects.User("acme", "da1"), &fd.ServerFrame{Type: frames.TypeSuggestion, Conv: conv, Text: "try this"})
		ag.Await(frames.TypeSuggestion)
	})
	t.Run("presence", func(t *testing.T) {
		pub(subjects.Overview("acme"), &fd.ServerFrame{Type: frames.TypePresence, AgentsAvailable: proto.Int32(4), QueueLength: proto.Int32(7)})
		for _, c := range []*apptest.Client{ag, sup} {
			if f := c.Await(frames.TypePresence); f.GetAgentsAvailable() != 4 || f.GetQueueLength() != 7 {
				t.Fatalf("presence = %v", f)
			}
		}
		cust.Quiet(frames.TypePresence, 100*time.Millisecond)
	})
	t.Run("partial bot text", func(t *testing.T) {
		pub(subjects.Live("acme", conv), &fd.ServerFrame{Type: frames.TypeMessage, Conv: conv, Id: "m_bot", Text: "Hel",
			Partial: proto.Bool(true), From: &fd.Participant{Id: "bot", Role: frames.RoleBot}})
		if f := cust.Await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetPartial() }); f.GetText() != "Hel" {
			t.Fatalf("partial = %v", f)
		}
	})
	t.Run("requeued leaves the agent", func(t *testing.T) {
		ev := &fd.ConversationEvent{Id: "rq1", Tenant: "acme", Conv: conv, Type: "requeued", State: frames.StateQueued,
			PreviousAgent: &fd.Participant{Id: "da1"}, Reason: "agent_offline"}
		b, _ := proto.Marshal(ev)
		if _, err := e.JS.Publish(context.Background(), subjects.Events("acme", conv), b); err != nil {
			t.Fatal(err)
		}
		if f := ag.Await(frames.TypeState, apptest.InConv(conv), stateIs(frames.StateQueued)); f.GetReason() != "agent_offline" {
			t.Fatalf("agent state = %v", f)
		}
		cust.Await(frames.TypeState, apptest.InConv(conv), stateIs(frames.StateQueued))
		cust.Send(apptest.Text("after", conv, "anyone?"))
		cust.Await(frames.TypeMessage, hasIDClient("after"))
		ag.Quiet(frames.TypeMessage, 200*time.Millisecond)
	})
	t.Run("transferred tells the customer the new agent", func(t *testing.T) {
		ev := &fd.ConversationEvent{Id: "tr1", Tenant: "acme", Conv: conv, Type: "transferred", State: frames.StateAssigned,
			Agent: &fd.Participant{Id: "da2", Role: frames.RoleAgent, Name: "Second"}, PreviousAgent: &fd.Participant{Id: "da1"},
			Customer: &fd.Participant{Id: "dc1", Role: frames.RoleCustomer}}
		b, _ := proto.Marshal(ev)
		if _, err := e.JS.Publish(context.Background(), subjects.Events("acme", conv), b); err != nil {
			t.Fatal(err)
		}
		f := cust.Await(frames.TypeAssigned, apptest.InConv(conv))
		if f.GetAgent().GetId() != "da2" || f.GetAgent().GetName() != "Second" || f.GetCustomer().GetId() != "dc1" {
			t.Fatalf("assigned after transfer = %v", f)
		}
		cust.Await(frames.TypeState, apptest.InConv(conv), stateIs(frames.StateAssigned))
	})
	t.Run("closed", func(t *testing.T) {
		ev := &fd.ConversationEvent{Id: "cl1", Tenant: "acme", Conv: conv, Type: "closed", State: frames.StateClosed, Reason: "closed_by_agent"}
		b, _ := proto.Marshal(ev)
		if _, err := e.JS.Publish(context.Background(), subjects.Events("acme", conv), b); err != nil {
			t.Fatal(err)
		}
		cust.Await(frames.TypeState, apptest.InConv(conv), stateIs(frames.StateClosed))
	})
}

func stateIs(s string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetState() == s }
}

// TestErrors covers every error code of PROTOCOL.md.
func TestErrors(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	c, _ := g.Dial(t, apptest.Token(t, "acme", "ec1", frames.RoleCustomer))
	c.Send(apptest.Text("o", "", "hi"))
	conv := c.Await(frames.TypeAck).GetConv()
	other, _ := g.Dial(t, apptest.Token(t, "acme", "ec2", frames.RoleCustomer))
	other.Send(apptest.Text("o", "", "mine"))
	otherConv := other.Await(frames.TypeAck).GetConv()
	tests := []struct {
		name string
		raw  string
		f    *fd.ClientFrame
		code string
	}{
		{"unparseable", `{"type":`, nil, frames.CodeBadFrame},
		{"unknown type", `{"type":"dance","id":"d1"}`, nil, frames.CodeBadFrame},
		{"send without id", `{"type":"send","text":"x"}`, nil, frames.CodeBadFrame},
		{"sync without conv", `{"type":"sync","id":"s1"}`, nil, frames.CodeBadFrame},
		{"unknown conversation", "", &fd.ClientFrame{Type: frames.TypeSync, Id: "u1", Conv: "c_NOSUCHCONVERSATION0", After: apptest.I64(0)}, frames.CodeUnknownConversation},
		{"bad conversation token", "", &fd.ClientFrame{Type: frames.TypeSync, Id: "u2", Conv: "a.b.>", After: apptest.I64(0)}, frames.CodeUnknownConversation},
		{"other's conversation", "", apptest.Text("f1", otherConv, "hi"), frames.CodeForbidden},
		{"customer status", "", &fd.ClientFrame{Type: frames.TypeStatus, Id: "f2", Status: frames.StatusAway}, frames.CodeForbidden},
		{"customer transfer", "", &fd.ClientFrame{Type: frames.TypeTransfer, Id: "f3", Conv: conv, ToAgent: "x"}, frames.CodeForbidden},
		{"too large text", "", apptest.Text("big", conv, strings.Repeat("x", 40<<10)), frames.CodeTooLarge},
		{"internal: no persister", "", &fd.ClientFrame{Type: frames.TypeHistory, Id: "h1", Conv: conv}, frames.CodeInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.f != nil {
				c.Send(tc.f)
			} else if err := c.SendRaw([]byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			er := c.Await(frames.TypeError)
			if er.GetCode() != tc.code {
				t.Fatalf("error = %v, want %s", er, tc.code)
			}
			if tc.f != nil && er.GetId() != tc.f.GetId() {
				t.Fatalf("error id = %q, want %q", er.GetId(), tc.f.GetId())
			}
		})
	}
	t.Run("rate limited then 1008", func(t *testing.T) {
		rl, _ := g.Dial(t, apptest.Token(t, "tiny", "rl1", frames.RoleCustomer))
		limited := 0
		for i := 0; i < 30; i++ {
			if err := rl.SendRaw([]byte(`{"type":"typing","conv":"c_X"}`)); err != nil {
				break
			}
		}
		code := rl.Closed()
		close(rl.Frames)
		for f := range rl.Frames {
			if f.GetCode() == frames.CodeRateLimited {
				limited++
			}
		}
		if limited == 0 {
			t.Fatalf("no rate_limited error")
		}
		if code != frames.ClosePolicyViolation {
			t.Fatalf("close = %d, want 1008", code)
		}
	})
}

// TestCloseCodes covers the close codes of PROTOCOL.md.
func TestCloseCodes(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	t.Run("1000 normal", func(t *testing.T) {
		c, _ := g.Dial(t, apptest.Token(t, "acme", "cc0", frames.RoleCustomer))
		_ = c.Conn.Close(1000, "bye")
		if code := c.Closed(); code != 1000 {
			t.Fatalf("close = %d", code)
		}
	})
	t.Run("1009 frame too big", func(t *testing.T) {
		c, _ := g.Dial(t, apptest.Token(t, "tiny", "cc1", frames.RoleCustomer))
		_ = c.SendRaw([]byte(`{"type":"send","id":"x","text":"` + strings.Repeat("a", 2000) + `"}`))
		if code := c.Closed(); code != frames.CloseTooBig {
			t.Fatalf("close = %d, want 1009", code)
		}
	})
	t.Run("4001 token expired", func(t *testing.T) {
		s, _ := token.Sign(apptest.Secret, token.Claims{Subject: "cc2", Tenant: "acme", Role: frames.RoleCustomer}, 1500*time.Millisecond)
		c, _ := g.Dial(t, s)
		if code := c.Closed(); code != frames.CloseTokenExpired {
			t.Fatalf("close = %d, want 4001", code)
		}
	})
	t.Run("4002 session replaced", func(t *testing.T) {
		old, _ := g.Dial(t, apptest.Token(t, "globex", "cc3", frames.RoleCustomer))
		g2 := e.Gateway()
		newer, _ := g2.Dial(t, apptest.Token(t, "globex", "cc3", frames.RoleCustomer))
		if code := old.Closed(); code != frames.CloseSessionReplaced {
			t.Fatalf("close = %d, want 4002", code)
		}
		newer.Send(&fd.ClientFrame{Type: frames.TypePing})
		newer.Await(frames.TypePong)
	})
	t.Run("max connections per user", func(t *testing.T) {
		k := apptest.Token(t, "tiny", "cc4", frames.RoleCustomer)
		g.Dial(t, k)
		g.Dial(t, k)
		_, resp, err := g.DialRaw(t, k, apptest.DialOpts{})
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("third connection: %v %v", resp, err)
		}
	})
	t.Run("1012 restarting", func(t *testing.T) {
		g3 := e.Gateway()
		c, _ := g3.Dial(t, apptest.Token(t, "acme", "cc5", frames.RoleCustomer))
		g3.Cancel()
		if code := c.Closed(); code != frames.CloseRestarting {
			t.Fatalf("close = %d, want 1012", code)
		}
	})
}

// TestHeartbeats: a peer that stops answering pings is closed within the dead timeout and its
// presence is withdrawn; live sessions send presence heartbeats.
func TestHeartbeats(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) {
		c.Gateway.PingInterval = 300 * time.Millisecond
		c.Gateway.DeadTimeout = 1200 * time.Millisecond
		c.Gateway.PresenceTTL = 900 * time.Millisecond
	})
	pres := e.Sub(subjects.Presence("acme", "hb1"))
	// A client that never reads never answers pings.
	c, _ := g.Dial(t, apptest.Token(t, "acme", "hb1", frames.RoleAgent), apptest.DialOpts{NoRead: true})
	var p fd.SessionPresence
	apptest.Recv(t, pres, &p)
	if !p.GetOnline() || p.GetRole() != frames.RoleAgent || p.GetTtlS() != 0 && p.GetSession() == "" {
		t.Fatalf("presence = %v", &p)
	}
	start := time.Now()
	for {
		apptest.Recv(t, pres, &p)
		if !p.GetOnline() {
			break
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("dead connection withdrawn after %s", d)
	}
	_ = c
	// A reading client stays.
	alive, _ := g.Dial(t, apptest.Token(t, "acme", "hb2", frames.RoleCustomer))
	alive.Quiet("none", 2*time.Second)
	alive.Send(&fd.ClientFrame{Type: frames.TypePing})
	alive.Await(frames.TypePong)
}

// TestMetrics: the ops server exposes the gateway's metrics.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	c, _ := g.Dial(t, apptest.Token(t, "acme", "me1", frames.RoleCustomer))
	c.Send(apptest.Text("x", "", "hi"))
	c.Await(frames.TypeAck)
	_, _, _ = g.DialRaw(t, "bad", apptest.DialOpts{})
	resp, err := http.Get("http://" + g.OpsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`frontdesk_gateway_connections{role="customer",transport="ws"} 1`, `frontdesk_gateway_frames_in_total{type="send"} 1`,
		`frontdesk_gateway_frames_out_total{type="ack"} 1`, "frontdesk_gateway_publish_seconds_count 1", "frontdesk_gateway_delivery_seconds_count",
		`frontdesk_gateway_auth_failures_total{reason="bad_token"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestServerErrorClose: a session that cannot start (here the participants bucket is gone) is
// closed with 1011.
func TestServerErrorClose(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) { c.Gateway.RequestTimeout = time.Second })
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	if err := e.JS.DeleteKeyValue(ctx, subjects.BucketParticipants); err != nil {
		t.Fatal(err)
	}
	c, _, err := g.DialRaw(t, apptest.Token(t, "acme", "agent500", frames.RoleAgent), apptest.DialOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != frames.CloseServerError {
		t.Fatalf("close = %v, want 1011", err)
	}
}

// TestTenantRemoved: deleting a tenant from the bucket closes its sessions and refuses new ones.
func TestTenantRemoved(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	c, _ := g.Dial(t, apptest.Token(t, "tiny", "tr1", frames.RoleCustomer))
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	kv, err := e.JS.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Delete(ctx, "tiny"); err != nil {
		t.Fatal(err)
	}
	if code := c.Closed(); code != frames.ClosePolicyViolation {
		t.Fatalf("close = %d, want 1008", code)
	}
	_, resp, _ := g.DialRaw(t, apptest.Token(t, "tiny", "tr1", frames.RoleCustomer), apptest.DialOpts{})
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("new session of a removed tenant: %v", resp)
	}
}

// TestNATSRestart: after the NATS server restarts, the gateway's shared subscriptions (core and
// the conversation's consumer) come back, sends are stored and delivered again, and a client
// that missed messages meanwhile recovers them with sync.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway(func(c *app.Config) {
		c.NATS.ReconnectWait = 50 * time.Millisecond
		c.Gateway.RequestTimeout = time.Second
	})
	cust, ag, conv := setup(t, e, g, "acme", "nr1", "nra")
	cust.Send(apptest.Text("before", conv, "before"))
	before := ag.Await(frames.TypeMessage, hasIDClient("before"))

	e.NATS.Restart(t)

	// Sends may fail while the gateway reconnects; the client retries with the same id.
	var ack *fd.ServerFrame
	testkit.CheckFor(t, 15*time.Second, 200*time.Millisecond, func() error {
		cust.Send(apptest.Text("after", conv, "after"))
		for {
			select {
			case f := <-cust.Frames:
				if f.GetType() == frames.TypeAck && f.GetId() == "after" {
					ack = f
					return nil
				}
				if f.GetType() == frames.TypeError && f.GetId() == "after" {
					return errors.New(f.GetMessage())
				}
			case <-time.After(2 * time.Second):
				return errors.New("no answer")
			}
		}
	})
	// The agent gets it live, or (if its conversation consumer was still being recreated)
	// through sync: either way, nothing acked is missing.
	ag.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "resync", Conv: conv, After: apptest.I64(before.GetSeq())})
	got := false
	for {
		f := ag.Next()
		if f.GetType() == frames.TypeMessage && f.GetSeq() == ack.GetSeq() {
			got = true
		}
		if f.GetType() == frames.TypeSynced && f.GetId() == "resync" {
			if !f.GetRecovered() || f.GetLastSeq() < ack.GetSeq() {
				t.Fatalf("synced = %v", f)
			}
			break
		}
	}
	if !got {
		t.Fatal("message sent after the restart never reached the agent")
	}
	// Live delivery works again.
	cust.Send(apptest.Text("later", conv, "later"))
	ag.Await(frames.TypeMessage, hasIDClient("later"))
}

// TestAssignedAtOnce: with an agent free, the dispatcher answers a new conversation's open
// command at once; the customer who opened it must hear the answer even though it may be
// published before the open command's ack is back at the gateway.
func TestAssignedAtOnce(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	agent := &fd.Participant{Id: "quick", Role: frames.RoleAgent, Name: "Quick"}
	sub, err := e.NC.Subscribe(subjects.AllCommands(), func(m *nats.Msg) {
		cmd := &fd.Command{}
		if proto.Unmarshal(m.Data, cmd) != nil || cmd.GetType() != "open" {
			return
		}
		// The dispatcher's answer, as fast as it can come: straight from the command.
		ev := &fd.ConversationEvent{Id: "assigned/" + cmd.GetConv(), Tenant: cmd.GetTenant(), Conv: cmd.GetConv(),
			Type: "assigned", State: frames.StateAssigned, Customer: cmd.GetCustomer(), Agent: agent, At: timestamppb.Now()}
		b, _ := proto.Marshal(ev)
		_ = e.NC.Publish(subjects.Events(cmd.GetTenant(), cmd.GetConv()), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	for i := range 20 {
		cust, _ := g.Dial(t, apptest.Token(t, "acme", fmt.Sprintf("eager%d", i), frames.RoleCustomer))
		cust.Send(apptest.Text("first", "", "hello"))
		conv := cust.Await(frames.TypeAck, apptest.HasID("first")).GetConv()
		if f := cust.Await(frames.TypeAssigned, apptest.InConv(conv)); f.GetAgent().GetId() != "quick" {
			t.Fatalf("customer %d: assigned = %v", i, f)
		}
	}
}
