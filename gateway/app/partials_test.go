package app_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestPartialDeltas: a streamed reply of keyframes and deltas reaches a client that asked for
// deltas (partials=delta) whole and in order, and a client that did not (written before deltas
// existed) gets the keyframes only, so what it shows is always the whole text so far.
func TestPartialDeltas(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	old, _, conv := setup(t, e, g, "acme", "pd1", "pa1")
	current, _ := g.Dial(t, apptest.Token(t, "acme", "pd1", frames.RoleCustomer)+"&"+frames.QueryPartials+"="+frames.PartialsDelta)
	bot := &fd.Participant{Id: "bot", Role: frames.RoleBot}
	stream := []*fd.ServerFrame{
		{Text: "Hel", Part: proto.Int32(1)},
		{Delta: "lo", Part: proto.Int32(2)},
		{Delta: " world", Part: proto.Int32(3)},
		{Text: "Hello world!", Part: proto.Int32(4)},
	}
	for _, f := range stream {
		f.Type, f.Conv, f.Id, f.From, f.Kind, f.Partial = frames.TypeMessage, conv, "m_bot", bot, frames.KindText, proto.Bool(true)
		b, err := proto.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.NC.Publish(subjects.Live("acme", conv), b); err != nil {
			t.Fatal(err)
		}
	}
	partial := func(f *fd.ServerFrame) bool { return f.GetPartial() }
	held := ""
	for i, want := range stream {
		f := current.Await(frames.TypeMessage, partial)
		if f.GetPart() != want.GetPart() || f.GetText() != want.GetText() || f.GetDelta() != want.GetDelta() || f.GetId() != "m_bot" {
			t.Fatalf("delta client, frame %d: %v, want %v", i, f, want)
		}
		if frames.IsDelta(f) {
			held += f.GetDelta()
		} else {
			held = f.GetText()
		}
	}
	if held != "Hello world!" {
		t.Fatalf("delta client assembled %q", held)
	}
	// Live frames of one subject keep their order, so the old client's second partial being
	// the last keyframe shows the deltas between were not sent to it.
	for _, want := range []*fd.ServerFrame{stream[0], stream[3]} {
		f := old.Await(frames.TypeMessage, partial)
		if f.GetText() != want.GetText() || f.GetDelta() != "" || f.GetPart() != want.GetPart() {
			t.Fatalf("client without deltas got %v, want the keyframe %v", f, want)
		}
	}
}
