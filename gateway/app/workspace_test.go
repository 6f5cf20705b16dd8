package app_test

import (
	"context"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestWorkspaceFrames: who may send the workspace's frames, and what a label frame becomes. A
// customer sends none of the staff frames; an agent labels only a conversation they take part
// in, with one of the tenant's labels, and a supervisor any of the tenant's; another tenant's
// agent cannot reach the conversation at all. An accepted label frame is acked once the
// dispatcher's label command is stored, carrying the caller from the token.
func TestWorkspaceFrames(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	cust, _ := g.Dial(t, apptest.Token(t, "labeled", "wc1", frames.RoleCustomer))
	cust.Send(apptest.Text("o", "", "hello"))
	conv := cust.Await(frames.TypeAck).GetConv()
	holder, w := g.Dial(t, apptest.Token(t, "labeled", "wa1", frames.RoleAgent))
	if defs := w.GetLabelDefs(); len(defs) != 2 || defs[0].GetName() != "vip" {
		t.Fatalf("welcome label_defs = %v", defs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	if err := dispatchertest.Assign(ctx, e.NC, e.JS, "labeled", conv, &fd.Participant{Id: "wa1", Role: frames.RoleAgent, Name: "A"}); err != nil {
		t.Fatal(err)
	}
	holder.Await(frames.TypeAssigned, apptest.InConv(conv))
	other, _ := g.Dial(t, apptest.Token(t, "labeled", "wa2", frames.RoleAgent))
	sup, _ := g.Dial(t, apptest.Token(t, "labeled", "ws1", frames.RoleSupervisor))
	stranger, _ := g.Dial(t, apptest.Token(t, "acme", "wa1", frames.RoleAgent)) // same id, another tenant
	cmds := e.Sub(subjects.ConvCommands("labeled", conv))

	label := func(id, name string, remove bool) *fd.ClientFrame {
		return &fd.ClientFrame{Type: frames.TypeLabel, Id: id, Conv: conv, Label: name, Remove: remove}
	}
	refused := []struct {
		name string
		c    *apptest.Client
		f    *fd.ClientFrame
		code string
	}{
		{"customer labels", cust, label("r1", "vip", false), frames.CodeForbidden},
		{"customer lists canned", cust, &fd.ClientFrame{Type: frames.TypeCanned, Id: "r2"}, frames.CodeForbidden},
		{"customer searches", cust, &fd.ClientFrame{Type: frames.TypeSearch, Id: "r3", Search: &fd.SearchFilter{Query: "x"}}, frames.CodeForbidden},
		{"customer reads a contact", cust, &fd.ClientFrame{Type: frames.TypeContact, Id: "r4", Contact: &fd.Contact{Id: "wc2"}}, frames.CodeForbidden},
		{"customer without a form", cust, &fd.ClientFrame{Type: frames.TypePrechat, Id: "r5", Contact: &fd.Contact{Name: "x"}}, frames.CodeBadFrame},
		{"agent sends prechat", holder, &fd.ClientFrame{Type: frames.TypePrechat, Id: "r6", Contact: &fd.Contact{Name: "x"}}, frames.CodeForbidden},
		{"agent not on the conversation", other, label("r7", "vip", false), frames.CodeForbidden},
		{"another tenant's agent", stranger, label("r8", "vip", false), frames.CodeUnknownConversation},
		{"label the tenant does not define", holder, label("r9", "gold", false), frames.CodeBadFrame},
		{"label that is not a name", holder, label("r10", "a.b", false), frames.CodeBadFrame},
		{"customer labels a contact", cust, &fd.ClientFrame{Type: frames.TypeContactLabel, Id: "r11", Contact: &fd.Contact{Id: "wc2"}, Label: "vip"}, frames.CodeForbidden},
		{"contact label the tenant does not define", holder, &fd.ClientFrame{Type: frames.TypeContactLabel, Id: "r12", Contact: &fd.Contact{Id: "wc2"}, Label: "gold"}, frames.CodeBadFrame},
		{"contact label without a contact", holder, &fd.ClientFrame{Type: frames.TypeContactLabel, Id: "r13", Label: "vip"}, frames.CodeBadFrame},
	}
	for _, tc := range refused {
		tc.c.Send(tc.f)
		if er := tc.c.Await(frames.TypeError, apptest.HasID(tc.f.GetId())); er.GetCode() != tc.code {
			t.Fatalf("%s: %v, want %s", tc.name, er, tc.code)
		}
	}
	accepted := []struct {
		name  string
		c     *apptest.Client
		f     *fd.ClientFrame
		actor string
	}{
		{"holder adds", holder, label("l1", "vip", false), "wa1"},
		{"supervisor removes", sup, label("l2", "vip", true), "ws1"},
	}
	for _, tc := range accepted {
		tc.c.Send(tc.f)
		tc.c.Await(frames.TypeAck, apptest.HasID(tc.f.GetId()))
		var cmd fd.Command
		apptest.Recv(t, cmds, &cmd)
		if cmd.GetType() != frames.CommandLabel || cmd.GetLabel() != "vip" || cmd.GetRemove() != tc.f.GetRemove() ||
			cmd.GetActor().GetId() != tc.actor || cmd.GetTenant() != "labeled" || cmd.GetConv() != conv {
			t.Fatalf("%s: command %v", tc.name, &cmd)
		}
	}
	select {
	case m := <-cmds:
		t.Fatalf("a refused frame became a command: %s", m.Data)
	default:
	}
}
