package ingest_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	pb := func(m proto.Message) []byte { b, _ := proto.Marshal(m); return b }
	tests := []struct {
		name string
		// decode decodes and checks the record; it returns the repairs and the error.
		decode  func(t *testing.T) ([]string, error)
		poison  bool
		repairs []string
	}{
		{"message", func(t *testing.T) ([]string, error) {
			r, rep, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 7, pb(&fd.Message{Id: "m1", Text: "hi"}))
			if err == nil && (r.Seq != 7 || r.Msg.Tenant != "acme" || r.Msg.Conv != "c1" || r.Msg.Text != "hi") {
				t.Errorf("decoded %v", r)
			}
			return rep, err
		}, false, nil},
		{"NUL in text and name is removed, the message kept", func(t *testing.T) ([]string, error) {
			r, rep, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 7, pb(&fd.Message{
				Id: "m1", Text: "a\x00b\x00", From: &fd.Participant{Id: "u1", Name: "\x00Ann"},
			}))
			if err == nil && (r.Msg.Text != "ab" || r.Msg.From.Name != "Ann" || r.Msg.From.Id != "u1") {
				t.Errorf("decoded %v", r)
			}
			return rep, err
		}, false, []string{"removed NUL bytes from from.name", "removed NUL bytes from text"}},
		{"NUL in the message id is refused", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 1, pb(&fd.Message{Id: "m\x001"}))
			return rep, err
		}, true, nil},
		{"NUL in the sender id is refused", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 1, pb(&fd.Message{Id: "m1", From: &fd.Participant{Id: "u\x00"}}))
			return rep, err
		}, true, nil},
		{"message on an event subject", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeMessage(subjects.Events("acme", "c1"), 1, pb(&fd.Message{Id: "m1"}))
			return rep, err
		}, true, nil},
		{"message of another conversation", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 1, pb(&fd.Message{Id: "m1", Conv: "c2"}))
			return rep, err
		}, true, nil},
		{"event", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{Id: "e1", Type: "opened"}))
			return rep, err
		}, false, nil},
		{"NUL in an event's summary is removed", func(t *testing.T) ([]string, error) {
			r, rep, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{Id: "e1", Type: "queued", Summary: "refund\x00"}))
			if err == nil && r.Event.Summary != "refund" {
				t.Errorf("decoded %v", r)
			}
			return rep, err
		}, false, []string{"removed NUL bytes from summary"}},
		{"NUL in an event's agent id is refused", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{
				Id: "e1", Type: "assigned", Agent: &fd.Participant{Id: "a\x00"},
			}))
			return rep, err
		}, true, nil},
		{"event without id", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{Type: "opened"}))
			return rep, err
		}, true, nil},
		{"read", func(t *testing.T) ([]string, error) {
			r, rep, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, pb(&fd.ReadPosition{Seq: 5}))
			if err == nil && (r.User != "u1" || r.Seq != 5 || r.Conv != "c1") {
				t.Errorf("decoded %v", r)
			}
			return rep, err
		}, false, nil},
		{"read for another user", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, pb(&fd.ReadPosition{User: &fd.Participant{Id: "u2"}, Seq: 5}))
			return rep, err
		}, true, nil},
		{"garbage", func(*testing.T) ([]string, error) {
			_, rep, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, []byte{0xff, 0xff, 0xff})
			return rep, err
		}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			repairs, err := tt.decode(t)
			if tt.poison != ingest.IsPoison(err) || (!tt.poison && err != nil) {
				t.Fatalf("err = %v, poison want %v", err, tt.poison)
			}
			slices.Sort(repairs)
			if !slices.Equal(repairs, tt.repairs) {
				t.Fatalf("repairs = %q, want %q", repairs, tt.repairs)
			}
		})
	}
}
