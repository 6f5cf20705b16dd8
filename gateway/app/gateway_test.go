package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &token.Claims{Subject: "u1", Tenant: "acme", Role: "customer",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour))}).SignedString(secret)
	wrongKey, _ := token.Sign([]byte("another-development-secret-0123456789"), token.Claims{Subject: "u1", Tenant: "acme", Role: "customer"}, time.Hour)
	tests := []struct {
		name   string
		token  string
		opts   dialOpts
		status int
	}{
		{"no token", "", dialOpts{noToken: true}, http.StatusUnauthorized},
		{"garbage token", "abc", dialOpts{}, http.StatusUnauthorized},
		{"expired", expired, dialOpts{}, http.StatusUnauthorized},
		{"wrong key", wrongKey, dialOpts{}, http.StatusUnauthorized},
		{"unknown tenant", tok(t, "nosuch", "u1", "customer"), dialOpts{}, http.StatusForbidden},
		{"origin refused", tok(t, "acme", "u1", "customer"), dialOpts{origin: "https://evil.example"}, http.StatusForbidden},
		{"origin allowed", tok(t, "acme", "u1", "customer"), dialOpts{origin: "https://shop.acme.com"}, http.StatusSwitchingProtocols},
		{"header token", "", dialOpts{noToken: true, header: http.Header{"Authorization": {"Bearer " + tok(t, "acme", "u2", "agent")}}}, http.StatusSwitchingProtocols},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := g.dialRaw(t, tc.token, tc.opts)
			if c != nil {
				defer c.CloseNow()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (%v)", resp.StatusCode, tc.status, err)
			}
		})
	}
}

func TestVisitors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	post := func(body string) (*http.Response, map[string]string) {
		resp, err := http.Post(g.url+"/v1/visitors", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	if resp, _ := post(`{"tenant":"globex"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("globex visitors: %d, want 403", resp.StatusCode)
	}
	if resp, _ := post(`{"tenant":"nosuch"}`); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unknown tenant visitors: %d, want 403", resp.StatusCode)
	}
	resp, out := post(`{"tenant":"acme","name":"Zoe"}`)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(out["user"], "v_") {
		t.Fatalf("acme visitors: %d %v", resp.StatusCode, out)
	}
	_, w := g.dial(t, out["token"])
	if w.GetUser() != out["user"] || w.GetRole() != frames.RoleCustomer || w.GetTenant() != "acme" || !strings.HasPrefix(w.GetSession(), "s_") {
		t.Fatalf("welcome = %v", w)
	}
}

// TestConversationFlow: a customer's first send opens a conversation (contract flow Open), is
// acked after JetStream stored it, reaches both of the customer's tabs (their own message
// included), a retried send is stored once with the same seq, and an assigned agent takes part.
func TestConversationFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	cust := tok(t, "acme", "cust1", frames.RoleCustomer)
	tab1, w := g.dial(t, cust)
	if len(w.GetConversations()) != 0 {
		t.Fatalf("welcome conversations = %v", w.GetConversations())
	}
	tab2, _ := g.dial(t, cust)
	cmds := e.sub(subjects.AllCommands())

	tab1.send(text("x1", "", "hello <b>there</b>\x07\n"))
	ack := tab1.await(frames.TypeAck, hasID("x1"))
	conv := ack.GetConv()
	if !strings.HasPrefix(conv, "c_") || len(conv) != 22 || ack.GetSeq() <= 0 {
		t.Fatalf("ack = %v", ack)
	}
	for i, c := range []*client{tab1, tab2} {
		m := c.await(frames.TypeMessage, inConv(conv))
		if m.GetSeq() != ack.GetSeq() || m.GetClientId() != "x1" || m.GetText() != "hello <b>there</b>\n" ||
			m.GetFrom().GetId() != "cust1" || !strings.HasPrefix(m.GetId(), "m_") {
			t.Fatalf("tab %d message = %v", i+1, m)
		}
	}
	// The open command, from which the dispatcher announces the `opened` event (the gateway
	// may not publish events).
	var cmd fd.Command
	recv(t, cmds, &cmd)
	if cmd.GetType() != "open" || cmd.GetConv() != conv || cmd.GetCustomer().GetId() != "cust1" {
		t.Fatalf("command = %v", &cmd)
	}

	// Retry with the same id: stored once, same seq.
	tab1.send(text("x1", conv, "hello <b>there</b>\x07\n"))
	again := tab1.await(frames.TypeAck, hasID("x1"))
	if again.GetSeq() != ack.GetSeq() {
		t.Fatalf("retried ack seq = %d, want %d", again.GetSeq(), ack.GetSeq())
	}
	if n := len(e.streamMsgs(subjects.StreamMessages, subjects.Messages("acme", conv))); n != 1 {
		t.Fatalf("stored %d messages, want 1", n)
	}

	// A new session sees the open conversation in welcome, with unread counts when the record
	// answers.
	unread, err := e.nc.Subscribe(subjects.UnreadQuery("acme"), func(m *nats.Msg) {
		req := &fd.UnreadRequest{}
		_ = proto.Unmarshal(m.Data, req)
		out := map[string]int64{}
		for _, c := range req.GetConvs() {
			out[c] = 7
		}
		b, _ := proto.Marshal(&fd.UnreadReply{Unread: out})
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = e.nc.Flush()
	_, w3 := g.dial(t, cust)
	_ = unread.Unsubscribe()
	if w3.GetConversations()[0].GetUnread() != 7 {
		t.Fatalf("welcome unread = %v", w3.GetConversations())
	}
	if len(w3.GetConversations()) != 1 || w3.GetConversations()[0].GetConv() != conv ||
		w3.GetConversations()[0].GetLastSeq() != ack.GetSeq() || w3.GetConversations()[0].GetState() != frames.StateQueued {
		t.Fatalf("welcome = %v", w3)
	}

	// Assignment (the dispatcher's side done by hand): the agent follows the conversation.
	agent, _ := g.dial(t, tok(t, "acme", "agent1", frames.RoleAgent))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := dispatchertest.Assign(ctx, e.nc, e.js, "acme", conv, &fd.Participant{Id: "agent1", Role: frames.RoleAgent, Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if a := agent.await(frames.TypeAssigned, inConv(conv)); a.GetCustomer().GetId() != "cust1" {
		t.Fatalf("agent assigned = %v", a)
	}
	if a := tab1.await(frames.TypeAssigned, inConv(conv)); a.GetAgent().GetId() != "agent1" {
		t.Fatalf("customer assigned = %v", a)
	}
	tab2.await(frames.TypeState, inConv(conv), func(f *fd.ServerFrame) bool { return f.GetState() == frames.StateAssigned })
	agent.send(text("a1", conv, "Hi, how can I help?"))
	aack := agent.await(frames.TypeAck, hasID("a1"))
	for _, c := range []*client{tab1, tab2, agent} {
		if m := c.await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetClientId() == "a1" }); m.GetSeq() != aack.GetSeq() {
			t.Fatalf("agent message = %v", m)
		}
	}
	tab1.send(text("x2", conv, "thanks"))
	agent.await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetClientId() == "x2" })
	// The agent's welcome lists the conversation after reconnecting.
	_, aw := g.dial(t, tok(t, "acme", "agent1", frames.RoleAgent))
	if len(aw.GetConversations()) != 1 || aw.GetConversations()[0].GetCustomer().GetId() != "cust1" {
		t.Fatalf("agent welcome = %v", aw)
	}
}

// TestSyncAfterDrop: a client that drops and reconnects gets exactly the missed messages, in
// order, then synced with recovered = true.
func TestSyncAfterDrop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	cust := tok(t, "acme", "cust2", frames.RoleCustomer)
	c1, _ := g.dial(t, cust)
	c1.send(text("s1", "", "one"))
	ack := c1.await(frames.TypeAck, hasID("s1"))
	conv := ack.GetConv()
	_ = c1.c.CloseNow()

	other, _ := g.dial(t, cust)
	var want []int64
	for i := range 5 {
		id := "m" + string(rune('a'+i))
		other.send(text(id, conv, "missed "+id))
		want = append(want, other.await(frames.TypeAck, hasID(id)).GetSeq())
	}
	// Noise in another conversation must not appear.
	c2, _ := g.dial(t, tok(t, "acme", "cust3", frames.RoleCustomer))
	c2.send(text("n1", "", "noise"))
	c2.await(frames.TypeAck)

	back, _ := g.dial(t, cust)
	back.send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv, After: i64(ack.GetSeq())})
	var got []int64
	for {
		f := back.next()
		if f.GetType() == frames.TypeSynced {
			if !f.GetRecovered() || f.GetLastSeq() != want[len(want)-1] || f.GetConv() != conv {
				t.Fatalf("synced = %v", f)
			}
			break
		}
		if f.GetType() == frames.TypeMessage {
			got = append(got, f.GetSeq())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("replayed %v, want %v", got, want)
		}
	}
	// Nothing after: sync from the last seq replays nothing.
	back.send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: i64(want[4])})
	if f := back.await(frames.TypeSynced); f.GetLastSeq() != want[4] || !f.GetRecovered() {
		t.Fatalf("synced = %v", f)
	}
}

// TestSyncFromRecord: what the stream no longer holds comes from the persister; when the
// persister cannot be reached, synced says recovered = false.
func TestSyncFromRecord(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	cust := tok(t, "acme", "cust4", frames.RoleCustomer)
	c, _ := g.dial(t, cust)
	var stored []*fd.StoredMessage
	var conv string
	for i := range 6 {
		id := "r" + string(rune('0'+i))
		c.send(text(id, conv, "msg "+id))
		a := c.await(frames.TypeAck, hasID(id))
		conv = a.GetConv()
		stored = append(stored, &fd.StoredMessage{Seq: a.GetSeq(), Message: &fd.Message{Id: "m_" + id, ClientId: id,
			Conv: conv, Text: "msg " + id, From: &fd.Participant{Id: "cust4", Role: "customer"}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s, err := e.js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	// The stream forgets the first four messages.
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(uint64(stored[4].GetSeq()))); err != nil {
		t.Fatal(err)
	}

	c, _ = g.dial(t, cust)
	c.send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: i64(stored[0].GetSeq())})
	if f := c.await(frames.TypeSynced); f.GetRecovered() || f.GetLastSeq() != stored[0].GetSeq() {
		t.Fatalf("synced without persister = %v", f)
	}

	e.persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
		var out []*fd.StoredMessage
		for _, m := range stored {
			if m.GetSeq() > req.GetAfter() && len(out) < 2 { // small pages: paging is exercised
				out = append(out, m)
			}
		}
		return &fd.HistoryReply{Messages: out, More: len(out) == 2}
	})
	c.send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: i64(stored[0].GetSeq())})
	var got []int64
	for {
		f := c.next()
		if f.GetType() == frames.TypeMessage {
			got = append(got, f.GetSeq())
		}
		if f.GetType() == frames.TypeSynced {
			if !f.GetRecovered() || f.GetLastSeq() != stored[5].GetSeq() {
				t.Fatalf("synced = %v", f)
			}
			break
		}
	}
	if len(got) != 5 {
		t.Fatalf("replayed %v", got)
	}
	for i, seq := range got {
		if seq != stored[i+1].GetSeq() {
			t.Fatalf("replayed %v", got)
		}
	}
}

// TestTwoGateways: two gateways on one NATS; a message sent through one reaches a socket on the
// other.
func TestTwoGateways(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g1, g2 := e.gateway(), e.gateway()
	cust := tok(t, "acme", "cust5", frames.RoleCustomer)
	c1, _ := g1.dial(t, cust)
	c2, _ := g2.dial(t, cust)
	c1.send(text("t1", "", "first"))
	ack := c1.await(frames.TypeAck)
	// The other gateway's session joins the new conversation and gets the message.
	if m := c2.await(frames.TypeMessage, inConv(ack.GetConv())); m.GetSeq() != ack.GetSeq() {
		t.Fatalf("message on gateway 2 = %v", m)
	}
	c2.send(text("t2", ack.GetConv(), "second"))
	a2 := c2.await(frames.TypeAck)
	if m := c1.await(frames.TypeMessage, hasIDClient("t2")); m.GetSeq() != a2.GetSeq() {
		t.Fatalf("message on gateway 1 = %v", m)
	}
}

func hasIDClient(id string) func(*fd.ServerFrame) bool {
	return func(f *fd.ServerFrame) bool { return f.GetClientId() == id }
}

// TestCrossTenant: a token of one tenant cannot read or write another tenant's conversation,
// nor another customer's in the same tenant.
func TestCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	victim, _ := g.dial(t, tok(t, "acme", "victim", frames.RoleCustomer))
	victim.send(text("v1", "", "secret"))
	conv := victim.await(frames.TypeAck).GetConv()

	for _, tc := range []struct {
		name, tenant, user, role, code string
	}{
		{"other tenant customer", "globex", "victim", frames.RoleCustomer, frames.CodeUnknownConversation},
		{"other tenant supervisor", "globex", "boss", frames.RoleSupervisor, frames.CodeUnknownConversation},
		{"same tenant other customer", "acme", "mallory", frames.RoleCustomer, frames.CodeForbidden},
		{"same tenant unassigned agent", "acme", "agent9", frames.RoleAgent, frames.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := g.dial(t, tok(t, tc.tenant, tc.user, tc.role))
			for i, f := range []*fd.ClientFrame{
				text("x", conv, "hi"),
				{Type: frames.TypeSync, Id: "s", Conv: conv, After: i64(0)},
				{Type: frames.TypeHistory, Id: "h", Conv: conv},
				{Type: frames.TypeTyping, Id: "ty", Conv: conv},
				{Type: frames.TypeRead, Id: "r", Conv: conv, Seq: i64(1)},
				{Type: frames.TypeClose, Id: "c", Conv: conv},
			} {
				if tc.role == frames.RoleSupervisor && tc.tenant == "acme" && i > 0 {
					continue
				}
				c.send(f)
				er := c.await(frames.TypeError)
				if er.GetCode() != tc.code || er.GetId() != f.GetId() {
					t.Fatalf("%s: error = %v, want %s", f.GetType(), er, tc.code)
				}
			}
			c.quiet(frames.TypeMessage, 100*time.Millisecond)
		})
	}
}

// TestProtobufSubprotocol: the same frames as protobuf binary messages.
func TestProtobufSubprotocol(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	c, w := g.dial(t, tok(t, "acme", "pb1", frames.RoleCustomer), dialOpts{proto: true})
	if w.GetUser() != "pb1" {
		t.Fatalf("welcome = %v", w)
	}
	c.send(text("p1", "", "binary hello"))
	ack := c.await(frames.TypeAck, hasID("p1"))
	if m := c.await(frames.TypeMessage); m.GetText() != "binary hello" || m.GetSeq() != ack.GetSeq() {
		t.Fatalf("message = %v", m)
	}
	c.send(&fd.ClientFrame{Type: frames.TypePing})
	c.await(frames.TypePong)
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	custTok := tok(t, "acme", "att1", frames.RoleCustomer)
	c, _ := g.dial(t, custTok)
	c.send(text("a0", "", "let me send a picture"))
	conv := c.await(frames.TypeAck).GetConv()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	upload := func(token, conv string, name string, data []byte) (int, map[string]any) {
		return g.upload(t, token, conv, name, data)
	}
	status, out := upload(custTok, conv, "cat.png", png)
	if status != http.StatusOK || out["type"] != "image/png" || !strings.HasPrefix(out["id"].(string), "att_") {
		t.Fatalf("upload: %d %v", status, out)
	}
	id := out["id"].(string)
	if status, _ := upload(custTok, conv, "x.exe", append([]byte("MZ\x90\x00"), bytes.Repeat([]byte{1}, 100)...)); status != http.StatusUnsupportedMediaType {
		t.Fatalf("exe upload: %d, want 415", status)
	}
	if status, _ := upload(custTok, conv, "big.png", append(png, bytes.Repeat([]byte{0}, 10<<20)...)); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big upload: %d, want 413", status)
	}
	if status, _ := upload(tok(t, "acme", "stranger", frames.RoleCustomer), conv, "cat.png", png); status != http.StatusForbidden {
		t.Fatalf("stranger upload: %d, want 403", status)
	}
	get := func(token string) (int, []byte) {
		resp, err := http.Get(g.url + "/v1/attachments/" + id + "?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, b := get(custTok); code != http.StatusOK || !bytes.Equal(b, png) {
		t.Fatalf("download: %d (%d bytes)", code, len(b))
	}
	if code, _ := get(tok(t, "acme", "stranger", frames.RoleCustomer)); code != http.StatusForbidden {
		t.Fatalf("stranger download: %d, want 403", code)
	}
	if code, _ := get(tok(t, "globex", "att1", frames.RoleCustomer)); code != http.StatusNotFound {
		t.Fatalf("other tenant download: %d, want 404", code)
	}
	// A message with the attachment: the stored description is the server's.
	c.send(&fd.ClientFrame{Type: frames.TypeSend, Id: "a1", Conv: conv, Kind: frames.KindImage,
		Attachment: &fd.Attachment{Id: id, Type: "text/html", Size: 1}})
	c.await(frames.TypeAck, hasID("a1"))
	m := c.await(frames.TypeMessage, hasIDClient("a1"))
	if m.GetAttachment().GetType() != "image/png" || m.GetAttachment().GetSize() != int64(len(png)) || m.GetAttachment().GetUrl() != "/v1/attachments/"+id {
		t.Fatalf("attachment message = %v", m)
	}
	c.send(&fd.ClientFrame{Type: frames.TypeSend, Id: "a2", Conv: conv, Kind: frames.KindImage, Attachment: &fd.Attachment{Id: "att_nosuch"}})
	if er := c.await(frames.TypeError, hasID("a2")); er.GetCode() != frames.CodeBadFrame {
		t.Fatalf("unknown attachment = %v", er)
	}
}

// TestClosedConversationReadable: after the dispatcher closed a conversation (participant keys
// and the open key deleted), its customer and its agent may still sync and read its history,
// from the conversation record; other users of the tenant may not.
func TestClosedConversationReadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.gateway()
	cust, ag, conv := setup(t, e, g, "acme", "cr1", "cra")
	cust.send(text("x1", conv, "thanks, bye"))
	last := cust.await(frames.TypeAck, hasID("x1")).GetSeq()
	ag.await(frames.TypeMessage, hasIDClient("x1"))

	// The dispatcher's close, by hand.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	kvConv, _ := e.js.KeyValue(ctx, subjects.BucketConversations)
	kvPart, _ := e.js.KeyValue(ctx, subjects.BucketParticipants)
	kvOpen, _ := e.js.KeyValue(ctx, subjects.BucketOpen)
	entry, err := kvConv.Get(ctx, subjects.ConversationKey("acme", conv))
	if err != nil {
		t.Fatal(err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(entry.Value(), c); err != nil {
		t.Fatal(err)
	}
	c.State = frames.StateClosed
	b, _ := proto.Marshal(c)
	if _, err := kvConv.Update(ctx, subjects.ConversationKey("acme", conv), b, entry.Revision()); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{subjects.ParticipantKey("acme", "cr1", conv), subjects.ParticipantKey("acme", "cra", conv)} {
		if err := kvPart.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := kvOpen.Delete(ctx, subjects.OpenKey("acme", "cr1")); err != nil {
		t.Fatal(err)
	}
	e.persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
		return &fd.HistoryReply{Messages: []*fd.StoredMessage{{Seq: last, Message: &fd.Message{Id: "m_x", Conv: req.GetConv(), Text: "thanks, bye"}}}}
	})

	for _, tc := range []struct {
		name, user, role string
		allowed          bool
	}{
		{"its customer", "cr1", frames.RoleCustomer, true},
		{"its agent", "cra", frames.RoleAgent, true},
		{"a supervisor", "boss", frames.RoleSupervisor, true},
		{"another customer", "cr2", frames.RoleCustomer, false},
		{"another agent", "crb", frames.RoleAgent, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl, w := g.dial(t, tok(t, "acme", tc.user, tc.role))
			if len(w.GetConversations()) != 0 {
				t.Fatalf("welcome lists %v", w.GetConversations())
			}
			cl.send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv})
			cl.send(&fd.ClientFrame{Type: frames.TypeHistory, Id: "hi", Conv: conv})
			if !tc.allowed {
				for _, id := range []string{"sy", "hi"} {
					if f := cl.await(frames.TypeError, hasID(id)); f.GetCode() != frames.CodeForbidden {
						t.Fatalf("%s: %v", id, f)
					}
				}
				return
			}
			var seqs []int64
			for {
				f := cl.next()
				if f.GetType() == frames.TypeMessage {
					seqs = append(seqs, f.GetSeq())
				}
				if f.GetType() == frames.TypeSynced {
					if !f.GetRecovered() || f.GetLastSeq() != last || len(seqs) != 2 {
						t.Fatalf("synced %v after %v", f, seqs)
					}
					break
				}
			}
			if h := cl.await(frames.TypeHistory, hasID("hi")); len(h.GetMessages()) != 1 || h.GetMessages()[0].GetSeq() != last {
				t.Fatalf("history = %v", h)
			}
			// Reading is not taking part: a closed conversation takes no new messages.
			cl.send(text("late", conv, "hello?"))
			if f := cl.await(frames.TypeError, hasID("late")); f.GetCode() != frames.CodeForbidden {
				t.Fatalf("send to a closed conversation: %v", f)
			}
		})
	}
}
