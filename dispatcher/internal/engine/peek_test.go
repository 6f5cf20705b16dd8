package engine

import (
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestPeekMessage: the two fields read without decoding agree with proto.Unmarshal and
// messageTime for every shape of message the stream can hold.
func TestPeekMessage(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 23, 59, 1, 123456789, time.UTC)
	full := &fd.Message{Id: "m_1", ClientId: "c1", Tenant: "acme", Conv: "c", Kind: frames.KindText, Text: "hello",
		From:      &fd.Participant{Id: "u1", Role: frames.RoleCustomer, Name: "Ada"},
		CreatedAt: timestamppb.New(at), Attachment: &fd.Attachment{Id: "att", Type: "image/png"}}
	enc := func(m *fd.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Two encodings concatenated are one message whose fields merge (the last value wins).
	merged := append(enc(full), enc(&fd.Message{From: &fd.Participant{Role: frames.RoleAgent}})...)
	tests := []struct {
		name string
		data []byte
	}{
		{"customer with a time", enc(full)},
		{"agent", enc(&fd.Message{From: &fd.Participant{Id: "a", Role: frames.RoleAgent}, CreatedAt: timestamppb.New(at)})},
		{"no sender", enc(&fd.Message{Text: "x", CreatedAt: timestamppb.New(at)})},
		{"no time", enc(&fd.Message{From: &fd.Participant{Role: frames.RoleCustomer}})},
		{"time before 1970", enc(&fd.Message{From: &fd.Participant{Role: frames.RoleCustomer},
			CreatedAt: &timestamppb.Timestamp{Seconds: -5}})},
		{"time out of range", enc(&fd.Message{From: &fd.Participant{Role: frames.RoleCustomer},
			CreatedAt: &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9}})},
		{"merged encodings", merged},
		{"empty", nil},
		{"truncated", enc(full)[:7]},
		{"garbage", []byte{0xff, 0xff, 0xff}},
		{"unknown fields", protowire.AppendString(protowire.AppendTag(enc(full), 999, protowire.BytesType), "x")},
	}
	now := time.Now()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			role, created, ok := peekMessage(tt.data)
			var m fd.Message
			err := proto.Unmarshal(tt.data, &m)
			if ok != (err == nil) {
				t.Fatalf("ok = %v, proto.Unmarshal: %v", ok, err)
			}
			if !ok {
				return
			}
			if string(role) != m.GetFrom().GetRole() {
				t.Errorf("role %q, want %q", role, m.GetFrom().GetRole())
			}
			want := messageTime(&m, now)
			if created.IsZero() {
				created = now
			}
			if !created.Equal(want) {
				t.Errorf("created %v, want %v", created, want)
			}
		})
	}
}

// BenchmarkNoteMessage is the deliver subscription's cost per message.
func BenchmarkNoteMessage(b *testing.B) {
	data, _ := proto.Marshal(&fd.Message{Id: "m_0123456789abcdefghij", ClientId: "c-1234", Tenant: "load", Conv: "c_customer-42",
		Kind: frames.KindText, Text: "a customer message of some length, as the load generator sends",
		From: &fd.Participant{Id: "customer-42", Role: frames.RoleCustomer, Name: "Customer 42"}, CreatedAt: timestamppb.Now()})
	var s slaClocks
	b.ReportAllocs()
	for b.Loop() {
		s.noteMessage("c_customer-42", data)
	}
}
