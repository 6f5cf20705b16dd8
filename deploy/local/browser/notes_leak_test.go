package browser_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// testNotesNeverReachCustomers: agents and a supervisor write private notes in a conversation
// while its customer is connected in two WebSocket tabs, over the protobuf subprotocol and over
// SSE; the conversation is transferred, the customer syncs from the start, pages its history
// from the record and reconnects. Staff get every note (the new agent too, after the transfer);
// not one byte of a note reaches any of the customer's sessions, while each of them does get
// the ordinary messages sent around the notes (so they were listening).
func testNotesNeverReachCustomers(t *testing.T, sys *system) {
	const tenant = "notes"
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	custTok, _, err := wsclient.Visitor(ctx, sys.URL, tenant, "Nora Leak")
	if err != nil {
		t.Fatal(err)
	}
	first, err := wsclient.Dial(ctx, sys.URL, custTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Close)
	v := &visitor{t: t, c: first, name: "Nora Leak"}
	v.say("I need help with my order")
	ann := dialSpy(t, sys, "agent ann", tokenFor(t, tenant, "a_ann", "Ann"), false)
	ann.send(&fd.ClientFrame{Type: frames.TypeStatus, Status: frames.StatusAvailable})
	ann.waitFor("assignment", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeAssigned && f.GetConv() == v.conv })
	v.waitAgent("Ann")

	tab2 := dialSpy(t, sys, "customer tab 2", custTok, false)
	binary := dialSpy(t, sys, "customer protobuf", custTok, true)
	sse := sseSpy(t, sys, "customer sse", custTok)
	customers := []*spy{tab2, binary, sse}

	secret := func(i int) string { return fmt.Sprintf("SECRET-NOTE-%d VIP 机密备注", i) }
	note := func(s *spy, i int) {
		t.Helper()
		id := fmt.Sprintf("note-%d", i)
		s.send(&fd.ClientFrame{Type: frames.TypeNote, Id: id, Conv: v.conv, Text: secret(i)})
		s.waitFor("ack of "+id, func(f *fd.ServerFrame) bool {
			return f.GetType() == frames.TypeAck && f.GetId() == id && f.GetNoteSeq() > 0
		})
	}
	say := func(s *spy, text string) {
		t.Helper()
		s.send(&fd.ClientFrame{Type: frames.TypeSend, Id: text, Conv: v.conv, Kind: frames.KindText, Text: text})
		for _, c := range customers {
			c.waitFor(text, func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeMessage && f.GetText() == text })
		}
		v.waitText(text)
	}
	hasNote := func(s *spy, i int) {
		t.Helper()
		s.waitFor("note "+secret(i), func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeNote && f.GetText() == secret(i) })
	}

	// The agent holding it writes a note (live to their own session); the supervisor, who does
	// not follow it, too (answered with the note).
	note(ann, 1)
	hasNote(ann, 1)
	sue := dialSpy(t, sys, "supervisor sue", supervisorToken(t, tenant, "s_sue", "Sue"), false)
	note(sue, 2)
	hasNote(sue, 2)
	hasNote(ann, 2)
	say(ann, "visible one")

	// Transferred to Bob, who gets the notes written before and writes one more.
	bob := dialSpy(t, sys, "agent bob", tokenFor(t, tenant, "a_bob", "Bob"), false)
	bob.send(&fd.ClientFrame{Type: frames.TypeStatus, Status: frames.StatusAvailable})
	testkitTransfer(t, ann, bob, v.conv, "a_bob")
	bob.send(&fd.ClientFrame{Type: frames.TypeNotes, Id: "load", Conv: v.conv})
	loaded := bob.waitFor("notes", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeNotes && f.GetId() == "load" })
	if n := len(loaded.GetMessages()); n != 2 || loaded.GetMessages()[0].GetText() != secret(1) || loaded.GetMessages()[1].GetFrom().GetId() != "s_sue" {
		t.Fatalf("bob loads %d notes: %v", n, loaded.GetMessages())
	}
	note(bob, 3)
	hasNote(bob, 3)
	say(bob, "visible two")

	// The customer asks for everything again: a sync from the start, a history page from the
	// record (once the persister has the last message), a new session; and tries the staff frames.
	for _, c := range customers {
		c.send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sync-" + c.name, Conv: v.conv, After: new(int64)})
		c.waitFor("synced", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeSynced && f.GetId() == "sync-"+c.name })
	}
	recordHas(t, tab2, v.conv, "visible two")
	tab3 := dialSpy(t, sys, "customer tab 3", custTok, false)
	tab3.send(&fd.ClientFrame{Type: frames.TypeSync, Id: "sync3", Conv: v.conv, After: new(int64)})
	tab3.waitFor("synced", func(f *fd.ServerFrame) bool { return f.GetType() == frames.TypeSynced && f.GetId() == "sync3" })
	customers = append(customers, tab3)
	for _, typ := range []string{frames.TypeNotes, frames.TypeNote} {
		id := "try-" + typ
		tab2.send(&fd.ClientFrame{Type: typ, Id: id, Conv: v.conv, Text: "let me in"})
		tab2.waitFor("refusal of "+typ, func(f *fd.ServerFrame) bool {
			return f.GetType() == frames.TypeError && f.GetId() == id && f.GetCode() == frames.CodeForbidden
		})
	}

	for _, c := range customers {
		for i := 1; i <= 3; i++ {
			if c.saw("SECRET-NOTE") || c.saw("机密备注") {
				t.Fatalf("%s received a note", c.name)
			}
		}
		for _, f := range c.frames() {
			if f.GetType() == frames.TypeNote || f.GetType() == frames.TypeNotes || strings.Contains(f.GetText(), "SECRET") {
				t.Fatalf("%s received %v", c.name, f)
			}
		}
	}
	for _, f := range v.c.Kept() {
		if f.GetType() == frames.TypeNote || strings.Contains(f.GetText(), "SECRET") {
			t.Fatalf("the first tab received %v", f)
		}
	}

	// Staff search the stored notes: a supervisor across the tenant, in English and Chinese;
	// an agent within a conversation they may read, not across the tenant; a customer never;
	// another tenant's supervisor finds nothing.
	searchNotes(t, sue, "", "SECRET", 3)
	searchNotes(t, sue, "", "机密", 3)
	searchNotes(t, bob, v.conv, "VIP", 3)
	for _, c := range []*spy{bob, tab2} {
		c.send(&fd.ClientFrame{Type: frames.TypeNotes, Id: "search-all", Text: "SECRET"})
		c.waitFor("refusal", func(f *fd.ServerFrame) bool {
			return f.GetType() == frames.TypeError && f.GetId() == "search-all" && f.GetCode() == frames.CodeForbidden
		})
	}
	other := dialSpy(t, sys, "supervisor of another tenant", supervisorToken(t, "notesui", "s_oz", "Oz"), false)
	searchNotes(t, other, "", "SECRET", 0)
	if tab2.saw("SECRET-NOTE") {
		t.Fatal("a customer's refused search returned a note")
	}
}

// searchNotes has s search the notes for query (in conv, when set) until the persister has
// stored want hits, each a note frame with the match marked.
func searchNotes(t *testing.T, s *spy, conv, query string, want int) {
	t.Helper()
	n := 0
	testkit.CheckFor(t, waitFor, 200*time.Millisecond, func() error {
		n++
		id := fmt.Sprintf("search-%d", n)
		s.send(&fd.ClientFrame{Type: frames.TypeNotes, Id: id, Conv: conv, Text: query})
		var got *fd.ServerFrame
		testkit.CheckFor(t, waitFor, 20*time.Millisecond, func() error {
			for _, f := range s.frames() {
				if f.GetId() == id && (f.GetType() == frames.TypeNotes || f.GetType() == frames.TypeError) {
					got = f
					return nil
				}
			}
			return errNot("no answer to " + id)
		})
		if got.GetType() == frames.TypeError {
			t.Fatalf("%s searching %q: %v", s.name, query, got)
		}
		if len(got.GetMessages()) != want {
			return errNot(fmt.Sprintf("%s finds %d notes for %q, want %d", s.name, len(got.GetMessages()), query, want))
		}
		for _, m := range got.GetMessages() {
			if m.GetType() != frames.TypeNote || !strings.Contains(m.GetText(), "«") {
				t.Fatalf("hit %v", m)
			}
		}
		return nil
	})
}

// testkitTransfer has from transfer conv to agent to, who gets the assignment.
func testkitTransfer(t *testing.T, from, to *spy, conv, agent string) {
	t.Helper()
	// The target must be known as available before the transfer is asked: retried until the
	// dispatcher has heard the status (a transfer to an agent still away is refused).
	n := 0
	testkit.CheckFor(t, waitFor, 500*time.Millisecond, func() error {
		n++
		from.send(&fd.ClientFrame{Type: frames.TypeTransfer, Id: fmt.Sprintf("tr-%d", n), Conv: conv, ToAgent: agent})
		for _, f := range to.frames() {
			if f.GetType() == frames.TypeAssigned && f.GetConv() == conv {
				return nil
			}
		}
		return errNot(agent + " not assigned yet")
	})
}

// recordHas pages s's conversation history from the record until it holds text (the persister
// stores asynchronously).
func recordHas(t *testing.T, s *spy, conv, text string) {
	t.Helper()
	n := 0
	testkit.CheckFor(t, waitFor, 200*time.Millisecond, func() error {
		n++
		id := fmt.Sprintf("hist-%d", n)
		s.send(&fd.ClientFrame{Type: frames.TypeHistory, Id: id, Conv: conv})
		var page *fd.ServerFrame
		testkit.CheckFor(t, waitFor, 20*time.Millisecond, func() error {
			for _, f := range s.frames() {
				if f.GetId() == id && (f.GetType() == frames.TypeHistory || f.GetType() == frames.TypeError) {
					page = f
					return nil
				}
			}
			return errNot("no answer to " + id)
		})
		for _, m := range page.GetMessages() {
			if m.GetText() == text {
				return nil
			}
		}
		return errNot("the record has no " + text + " yet")
	})
}
