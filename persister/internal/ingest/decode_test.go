package ingest_test

import (
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
		name   string
		decode func() error
		poison bool
	}{
		{"message", func() error {
			r, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 7, pb(&fd.Message{Id: "m1", Text: "a\x00b"}))
			if err == nil && (r.Seq != 7 || r.Msg.Tenant != "acme" || r.Msg.Conv != "c1" || r.Msg.Text != "ab") {
				t.Errorf("decoded %v", r)
			}
			return err
		}, false},
		{"message on an event subject", func() error {
			_, err := ingest.DecodeMessage(subjects.Events("acme", "c1"), 1, pb(&fd.Message{Id: "m1"}))
			return err
		}, true},
		{"message of another conversation", func() error {
			_, err := ingest.DecodeMessage(subjects.Messages("acme", "c1"), 1, pb(&fd.Message{Id: "m1", Conv: "c2"}))
			return err
		}, true},
		{"event", func() error {
			_, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{Id: "e1", Type: "opened"}))
			return err
		}, false},
		{"event without id", func() error {
			_, err := ingest.DecodeEvent(subjects.Events("acme", "c1"), 1, pb(&fd.ConversationEvent{Type: "opened"}))
			return err
		}, true},
		{"read", func() error {
			r, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, pb(&fd.ReadPosition{Seq: 5}))
			if err == nil && (r.User != "u1" || r.Seq != 5 || r.Conv != "c1") {
				t.Errorf("decoded %v", r)
			}
			return err
		}, false},
		{"read for another user", func() error {
			_, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, pb(&fd.ReadPosition{User: &fd.Participant{Id: "u2"}, Seq: 5}))
			return err
		}, true},
		{"garbage", func() error {
			_, err := ingest.DecodeRead(subjects.Reads("acme", "c1", "u1"), 1, []byte{0xff, 0xff, 0xff})
			return err
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.decode()
			if tt.poison != ingest.IsPoison(err) || (!tt.poison && err != nil) {
				t.Fatalf("err = %v, poison want %v", err, tt.poison)
			}
		})
	}
}
