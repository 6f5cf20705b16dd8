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

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &token.Claims{Subject: "u1", Tenant: "acme", Role: "customer",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour))}).SignedString(apptest.Secret)
	wrongKey, _ := token.Sign([]byte("another-development-secret-0123456789"), token.Claims{Subject: "u1", Tenant: "acme", Role: "customer"}, time.Hour)
	tests := []struct {
		name   string
		token  string
		opts   apptest.DialOpts
		status int
	}{
		{"no token", "", apptest.DialOpts{NoToken: true}, http.StatusUnauthorized},
		{"garbage token", "abc", apptest.DialOpts{}, http.StatusUnauthorized},
		{"expired", expired, apptest.DialOpts{}, http.StatusUnauthorized},
		{"wrong key", wrongKey, apptest.DialOpts{}, http.StatusUnauthorized},
		{"unknown tenant", apptest.Token(t, "nosuch", "u1", "customer"), apptest.DialOpts{}, http.StatusForbidden},
		{"origin refused", apptest.Token(t, "acme", "u1", "customer"), apptest.DialOpts{Origin: "https://evil.example"}, http.StatusForbidden},
		{"origin allowed", apptest.Token(t, "acme", "u1", "customer"), apptest.DialOpts{Origin: "https://shop.acme.com"}, http.StatusSwitchingProtocols},
		{"header token", "", apptest.DialOpts{NoToken: true, Header: http.Header{"Authorization": {"Bearer " + apptest.Token(t, "acme", "u2", "agent")}}}, http.StatusSwitchingProtocols},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := g.DialRaw(t, tc.token, tc.opts)
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
	e := apptest.NewEnv(t)
	g := e.Gateway()
	post := func(body string) (*http.Response, map[string]string) {
		resp, err := http.Post(g.URL+"/v1/visitors", "application/json", strings.NewReader(body))
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
	_, w := g.Dial(t, out["token"])
	if w.GetUser() != out["user"] || w.GetRole() != frames.RoleCustomer || w.GetTenant() != "acme" || !strings.HasPrefix(w.GetSession(), "s_") {
		t.Fatalf("welcome = %v", w)
	}
}

// TestConversationFlow: a customer's first send opens a conversation (contract flow Open), is
// acked after JetStream stored it, reaches both of the customer's tabs (their own message
// included), a retried send is stored once with the same seq, and an assigned agent takes part.
func TestConversationFlow(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust := apptest.Token(t, "acme", "cust1", frames.RoleCustomer)
	tab1, w := g.Dial(t, cust)
	if len(w.GetConversations()) != 0 {
		t.Fatalf("welcome conversations = %v", w.GetConversations())
	}
	tab2, _ := g.Dial(t, cust)
	cmds := e.Sub(subjects.AllCommands())

	tab1.Send(apptest.Text("x1", "", "hello <b>there</b>\x07\n"))
	ack := tab1.Await(frames.TypeAck, apptest.HasID("x1"))
	conv := ack.GetConv()
	if !strings.HasPrefix(conv, "c_") || len(conv) != 22 || ack.GetSeq() <= 0 {
		t.Fatalf("ack = %v", ack)
	}
	for i, c := range []*apptest.Client{tab1, tab2} {
		m := c.Await(frames.TypeMessage, apptest.InConv(conv))
		if m.GetSeq() != ack.GetSeq() || m.GetClientId() != "x1" || m.GetText() != "hello <b>there</b>\n" ||
			m.GetFrom().GetId() != "cust1" || !strings.HasPrefix(m.GetId(), "m_") {
			t.Fatalf("tab %d message = %v", i+1, m)
		}
	}
	// The open command, from which the dispatcher announces the `opened` event (the gateway
	// may not publish events).
	var cmd fd.Command
	apptest.Recv(t, cmds, &cmd)
	if cmd.GetType() != "open" || cmd.GetConv() != conv || cmd.GetCustomer().GetId() != "cust1" {
		t.Fatalf("command = %v", &cmd)
	}

	// Retry with the same id: stored once, same seq.
	tab1.Send(apptest.Text("x1", conv, "hello <b>there</b>\x07\n"))
	again := tab1.Await(frames.TypeAck, apptest.HasID("x1"))
	if again.GetSeq() != ack.GetSeq() {
		t.Fatalf("retried ack seq = %d, want %d", again.GetSeq(), ack.GetSeq())
	}
	if n := len(e.StreamMsgs(subjects.StreamMessages, subjects.Messages("acme", conv))); n != 1 {
		t.Fatalf("stored %d messages, want 1", n)
	}

	// A new session sees the open conversation in welcome, with unread counts when the record
	// answers.
	unread, err := e.NC.Subscribe(subjects.UnreadQuery("acme"), func(m *nats.Msg) {
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
	_ = e.NC.Flush()
	_, w3 := g.Dial(t, cust)
	_ = unread.Unsubscribe()
	if w3.GetConversations()[0].GetUnread() != 7 {
		t.Fatalf("welcome unread = %v", w3.GetConversations())
	}
	if len(w3.GetConversations()) != 1 || w3.GetConversations()[0].GetConv() != conv ||
		w3.GetConversations()[0].GetLastSeq() != ack.GetSeq() || w3.GetConversations()[0].GetState() != frames.StateQueued {
		t.Fatalf("welcome = %v", w3)
	}

	// Assignment (the dispatcher's side done by hand): the agent follows the conversation.
	agent, _ := g.Dial(t, apptest.Token(t, "acme", "agent1", frames.RoleAgent))
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	if err := dispatchertest.Assign(ctx, e.NC, e.JS, "acme", conv, &fd.Participant{Id: "agent1", Role: frames.RoleAgent, Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if a := agent.Await(frames.TypeAssigned, apptest.InConv(conv)); a.GetCustomer().GetId() != "cust1" {
		t.Fatalf("agent assigned = %v", a)
	}
	if a := tab1.Await(frames.TypeAssigned, apptest.InConv(conv)); a.GetAgent().GetId() != "agent1" {
		t.Fatalf("customer assigned = %v", a)
	}
	tab2.Await(frames.TypeState, apptest.InConv(conv), func(f *fd.ServerFrame) bool { return f.GetState() == frames.StateAssigned })
	agent.Send(apptest.Text("a1", conv, "Hi, how can I help?"))
	aack := agent.Await(frames.TypeAck, apptest.HasID("a1"))
	for _, c := range []*apptest.Client{tab1, tab2, agent} {
		if m := c.Await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetClientId() == "a1" }); m.GetSeq() != aack.GetSeq() {
			t.Fatalf("agent message = %v", m)
		}
	}
	tab1.Send(apptest.Text("x2", conv, "thanks"))
	agent.Await(frames.TypeMessage, func(f *fd.ServerFrame) bool { return f.GetClientId() == "x2" })
	// The agent's welcome lists the conversation after reconnecting.
	_, aw := g.Dial(t, apptest.Token(t, "acme", "agent1", frames.RoleAgent))
	if len(aw.GetConversations()) != 1 || aw.GetConversations()[0].GetCustomer().GetId() != "cust1" {
		t.Fatalf("agent welcome = %v", aw)
	}
}

// TestSyncAfterDrop: a client that drops and reconnects gets exactly the missed messages, in
// order, then synced with recovered = true.
func TestSyncAfterDrop(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust := apptest.Token(t, "acme", "cust2", frames.RoleCustomer)
	c1, _ := g.Dial(t, cust)
	c1.Send(apptest.Text("s1", "", "one"))
	ack := c1.Await(frames.TypeAck, apptest.HasID("s1"))
	conv := ack.GetConv()
	_ = c1.Conn.CloseNow()

	other, _ := g.Dial(t, cust)
	var want []int64
	for i := range 5 {
		id := "m" + string(rune('a'+i))
		other.Send(apptest.Text(id, conv, "missed "+id))
		want = append(want, other.Await(frames.TypeAck, apptest.HasID(id)).GetSeq())
	}
	// Noise in another conversation must not appear.
	c2, _ := g.Dial(t, apptest.Token(t, "acme", "cust3", frames.RoleCustomer))
	c2.Send(apptest.Text("n1", "", "noise"))
	c2.Await(frames.TypeAck)

	back, _ := g.Dial(t, cust)
	back.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv, After: apptest.I64(ack.GetSeq())})
	var got []int64
	for {
		f := back.Next()
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
	back.Send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: apptest.I64(want[4])})
	if f := back.Await(frames.TypeSynced); f.GetLastSeq() != want[4] || !f.GetRecovered() {
		t.Fatalf("synced = %v", f)
	}
}

// TestSyncFromRecord: what the stream no longer holds comes from the persister; when the
// persister cannot be reached, synced says recovered = false.
func TestSyncFromRecord(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust := apptest.Token(t, "acme", "cust4", frames.RoleCustomer)
	c, _ := g.Dial(t, cust)
	var stored []*fd.StoredMessage
	var conv string
	for i := range 6 {
		id := "r" + string(rune('0'+i))
		c.Send(apptest.Text(id, conv, "msg "+id))
		a := c.Await(frames.TypeAck, apptest.HasID(id))
		conv = a.GetConv()
		stored = append(stored, &fd.StoredMessage{Seq: a.GetSeq(), Message: &fd.Message{Id: "m_" + id, ClientId: id,
			Conv: conv, Text: "msg " + id, From: &fd.Participant{Id: "cust4", Role: "customer"}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	s, err := e.JS.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	// The stream forgets the first four messages.
	if err := s.Purge(ctx, jetstream.WithPurgeSequence(uint64(stored[4].GetSeq()))); err != nil {
		t.Fatal(err)
	}

	c, _ = g.Dial(t, cust)
	c.Send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: apptest.I64(stored[0].GetSeq())})
	if f := c.Await(frames.TypeSynced); f.GetRecovered() || f.GetLastSeq() != stored[0].GetSeq() {
		t.Fatalf("synced without persister = %v", f)
	}

	e.Persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
		var out []*fd.StoredMessage
		for _, m := range stored {
			if m.GetSeq() > req.GetAfter() && len(out) < 2 { // small pages: paging is exercised
				out = append(out, m)
			}
		}
		return &fd.HistoryReply{Messages: out, More: len(out) == 2}
	})
	c.Send(&fd.ClientFrame{Type: frames.TypeSync, Conv: conv, After: apptest.I64(stored[0].GetSeq())})
	var got []int64
	for {
		f := c.Next()
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
	e := apptest.NewEnv(t)
	g1, g2 := e.Gateway(), e.Gateway()
	cust := apptest.Token(t, "acme", "cust5", frames.RoleCustomer)
	c1, _ := g1.Dial(t, cust)
	c2, _ := g2.Dial(t, cust)
	c1.Send(apptest.Text("t1", "", "first"))
	ack := c1.Await(frames.TypeAck)
	// The other gateway's session joins the new conversation and gets the message.
	if m := c2.Await(frames.TypeMessage, apptest.InConv(ack.GetConv())); m.GetSeq() != ack.GetSeq() {
		t.Fatalf("message on gateway 2 = %v", m)
	}
	c2.Send(apptest.Text("t2", ack.GetConv(), "second"))
	a2 := c2.Await(frames.TypeAck)
	if m := c1.Await(frames.TypeMessage, hasIDClient("t2")); m.GetSeq() != a2.GetSeq() {
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
	e := apptest.NewEnv(t)
	g := e.Gateway()
	victim, _ := g.Dial(t, apptest.Token(t, "acme", "victim", frames.RoleCustomer))
	victim.Send(apptest.Text("v1", "", "secret"))
	conv := victim.Await(frames.TypeAck).GetConv()

	for _, tc := range []struct {
		name, tenant, user, role, code string
	}{
		{"other tenant customer", "globex", "victim", frames.RoleCustomer, frames.CodeUnknownConversation},
		{"other tenant supervisor", "globex", "boss", frames.RoleSupervisor, frames.CodeUnknownConversation},
		{"same tenant other customer", "acme", "mallory", frames.RoleCustomer, frames.CodeForbidden},
		{"same tenant unassigned agent", "acme", "agent9", frames.RoleAgent, frames.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := g.Dial(t, apptest.Token(t, tc.tenant, tc.user, tc.role))
			for i, f := range []*fd.ClientFrame{
				apptest.Text("x", conv, "hi"),
				{Type: frames.TypeSync, Id: "s", Conv: conv, After: apptest.I64(0)},
				{Type: frames.TypeHistory, Id: "h", Conv: conv},
				{Type: frames.TypeTyping, Id: "ty", Conv: conv},
				{Type: frames.TypeRead, Id: "r", Conv: conv, Seq: apptest.I64(1)},
				{Type: frames.TypeClose, Id: "c", Conv: conv},
			} {
				if tc.role == frames.RoleSupervisor && tc.tenant == "acme" && i > 0 {
					continue
				}
				c.Send(f)
				er := c.Await(frames.TypeError)
				if er.GetCode() != tc.code || er.GetId() != f.GetId() {
					t.Fatalf("%s: error = %v, want %s", f.GetType(), er, tc.code)
				}
			}
			c.Quiet(frames.TypeMessage, 100*time.Millisecond)
		})
	}
}

// TestProtobufSubprotocol: the same frames as protobuf binary messages.
func TestProtobufSubprotocol(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	c, w := g.Dial(t, apptest.Token(t, "acme", "pb1", frames.RoleCustomer), apptest.DialOpts{Proto: true})
	if w.GetUser() != "pb1" {
		t.Fatalf("welcome = %v", w)
	}
	c.Send(apptest.Text("p1", "", "binary hello"))
	ack := c.Await(frames.TypeAck, apptest.HasID("p1"))
	if m := c.Await(frames.TypeMessage); m.GetText() != "binary hello" || m.GetSeq() != ack.GetSeq() {
		t.Fatalf("message = %v", m)
	}
	c.Send(&fd.ClientFrame{Type: frames.TypePing})
	c.Await(frames.TypePong)
}

func TestAttachments(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	custTok := apptest.Token(t, "acme", "att1", frames.RoleCustomer)
	c, _ := g.Dial(t, custTok)
	c.Send(apptest.Text("a0", "", "let me send a picture"))
	conv := c.Await(frames.TypeAck).GetConv()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	upload := func(token, conv string, name string, data []byte) (int, map[string]any) {
		return g.Upload(t, token, conv, name, data)
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
	if status, _ := upload(apptest.Token(t, "acme", "stranger", frames.RoleCustomer), conv, "cat.png", png); status != http.StatusForbidden {
		t.Fatalf("stranger upload: %d, want 403", status)
	}
	get := func(token string) (int, []byte) {
		resp, err := http.Get(g.URL + "/v1/attachments/" + id + "?token=" + token)
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
	if code, _ := get(apptest.Token(t, "acme", "stranger", frames.RoleCustomer)); code != http.StatusForbidden {
		t.Fatalf("stranger download: %d, want 403", code)
	}
	if code, _ := get(apptest.Token(t, "globex", "att1", frames.RoleCustomer)); code != http.StatusNotFound {
		t.Fatalf("other tenant download: %d, want 404", code)
	}
	// A message with the attachment: the stored description is the server's.
	c.Send(&fd.ClientFrame{Type: frames.TypeSend, Id: "a1", Conv: conv, Kind: frames.KindImage,
		Attachment: &fd.Attachment{Id: id, Type: "text/html", Size: 1}})
	c.Await(frames.TypeAck, apptest.HasID("a1"))
	m := c.Await(frames.TypeMessage, hasIDClient("a1"))
	if m.GetAttachment().GetType() != "image/png" || m.GetAttachment().GetSize() != int64(len(png)) || m.GetAttachment().GetUrl() != "/v1/attachments/"+id {
		t.Fatalf("attachment message = %v", m)
	}
	c.Send(&fd.ClientFrame{Type: frames.TypeSend, Id: "a2", Conv: conv, Kind: frames.KindImage, Attachment: &fd.Attachment{Id: "att_nosuch"}})
	if er := c.Await(frames.TypeError, apptest.HasID("a2")); er.GetCode() != frames.CodeBadFrame {
		t.Fatalf("unknown attachment = %v", er)
	}
}

// TestClosedConversationReadable: after the dispatcher closed a conversation (participant keys
// and the open key deleted), its customer and its agent may still sync and read its history,
// from the conversation record; other users of the tenant may not.
func TestClosedConversationReadable(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust, ag, conv := setup(t, e, g, "acme", "cr1", "cra")
	cust.Send(apptest.Text("x1", conv, "thanks, bye"))
	last := cust.Await(frames.TypeAck, apptest.HasID("x1")).GetSeq()
	ag.Await(frames.TypeMessage, hasIDClient("x1"))

	// The dispatcher's close, by hand.
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	kvConv, _ := e.JS.KeyValue(ctx, subjects.BucketConversations)
	kvPart, _ := e.JS.KeyValue(ctx, subjects.BucketParticipants)
	kvOpen, _ := e.JS.KeyValue(ctx, subjects.BucketOpen)
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
	e.Persister("acme", func(req *fd.HistoryRequest) *fd.HistoryReply {
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
			cl, w := g.Dial(t, apptest.Token(t, "acme", tc.user, tc.role))
			if len(w.GetConversations()) != 0 {
				t.Fatalf("welcome lists %v", w.GetConversations())
			}
			cl.Send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sy", Conv: conv})
			cl.Send(&fd.ClientFrame{Type: frames.TypeHistory, Id: "hi", Conv: conv})
			if !tc.allowed {
				for _, id := range []string{"sy", "hi"} {
					if f := cl.Await(frames.TypeError, apptest.HasID(id)); f.GetCode() != frames.CodeForbidden {
						t.Fatalf("%s: %v", id, f)
					}
				}
				return
			}
			var seqs []int64
			for {
				f := cl.Next()
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
			if h := cl.Await(frames.TypeHistory, apptest.HasID("hi")); len(h.GetMessages()) != 1 || h.GetMessages()[0].GetSeq() != last {
				t.Fatalf("history = %v", h)
			}
			// Reading is not taking part: a closed conversation takes no new messages.
			cl.Send(apptest.Text("late", conv, "hello?"))
			if f := cl.Await(frames.TypeError, apptest.HasID("late")); f.GetCode() != frames.CodeForbidden {
				t.Fatalf("send to a closed conversation: %v", f)
			}
		})
	}
}
