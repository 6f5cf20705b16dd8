package session

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestParsePubAck: the server's templates are read directly, everything else as encoding/json
// reads it, and nothing that is not an acknowledgement passes as one.
func TestParsePubAck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    *jetstream.PubAck
		apiCode jetstream.ErrorCode // 0: no API error
		invalid bool
	}{
		{"stored", `{"stream":"FD_MESSAGES","seq":42}`, &jetstream.PubAck{Stream: "FD_MESSAGES", Sequence: 42}, 0, false},
		{"duplicate", `{"stream":"FD_MESSAGES","seq":7,"duplicate": true}`, &jetstream.PubAck{Stream: "FD_MESSAGES", Sequence: 7, Duplicate: true}, 0, false},
		{"domain", `{"stream":"S","domain":"hub","seq":1}`, &jetstream.PubAck{Stream: "S", Domain: "hub", Sequence: 1}, 0, false},
		{"json's spacing", `{ "stream": "S", "seq": 3 }`, &jetstream.PubAck{Stream: "S", Sequence: 3}, 0, false},
		{"a field the template lacks", `{"stream":"S","seq":5,"val":"1"}`, &jetstream.PubAck{Stream: "S", Sequence: 5, Value: "1"}, 0, false},
		{"largest sequence", `{"stream":"S","seq":18446744073709551615}`, &jetstream.PubAck{Stream: "S", Sequence: 1<<64 - 1}, 0, false},
		{"api error", `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}}`, nil, jetstream.JSErrCodeStreamWrongLastSequence, false},
		{"empty", ``, nil, 0, true},
		{"no stream", `{"seq":4}`, nil, 0, true},
		{"empty stream", `{"stream":"","seq":4}`, nil, 0, true},
		{"not json", `{"stream":"S","seq":4`, nil, 0, true},
		{"sequence overflows", `{"stream":"S","seq":18446744073709551616}`, nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePubAck([]byte(tc.in))
			switch {
			case tc.invalid:
				if !errors.Is(err, jetstream.ErrInvalidJSAck) {
					t.Fatalf("parsePubAck(%s) = %+v, %v; want ErrInvalidJSAck", tc.in, got, err)
				}
			case tc.apiCode != 0:
				var api *jetstream.APIError
				if !errors.As(err, &api) || api.ErrorCode != tc.apiCode {
					t.Fatalf("parsePubAck(%s) = %+v, %v; want API error %d", tc.in, got, err, tc.apiCode)
				}
			default:
				if err != nil || *got != *tc.want {
					t.Fatalf("parsePubAck(%s) = %+v, %v; want %+v", tc.in, got, err, tc.want)
				}
			}
		})
	}
}

// TestPublishMsgAgainstJetStream: through a real server, publishMsg answers as
// jetstream.PublishMsg does: the sequence, a duplicate's first sequence, the server's refusal,
// and no stream.
func TestPublishMsgAgainstJetStream(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "PUBACK", Subjects: []string{"puback.>"}}); err != nil {
		t.Fatal(err)
	}
	msg := func(id string, h ...string) *nats.Msg {
		m := nats.NewMsg("puback.a")
		m.Data = []byte(id)
		m.Header.Set(jetstream.MsgIDHeader, id)
		for i := 0; i+1 < len(h); i += 2 {
			m.Header.Set(h[i], h[i+1])
		}
		return m
	}
	for i, want := range []jetstream.PubAck{{Stream: "PUBACK", Sequence: 1}, {Stream: "PUBACK", Sequence: 2}} {
		got, err := publishMsg(ctx, nc, msg(string(rune('a'+i))))
		if err != nil || *got != want {
			t.Fatalf("publish %d = %+v, %v; want %+v", i, got, err, want)
		}
	}
	got, err := publishMsg(ctx, nc, msg("a"))
	if err != nil || *got != (jetstream.PubAck{Stream: "PUBACK", Sequence: 1, Duplicate: true}) {
		t.Fatalf("duplicate = %+v, %v; want sequence 1, duplicate", got, err)
	}
	_, err = publishMsg(ctx, nc, msg("c", jetstream.ExpectedLastSeqHeader, "1"))
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
		t.Fatalf("wrong last sequence = %v; want API error %d", err, jetstream.JSErrCodeStreamWrongLastSequence)
	}
	none := nats.NewMsg("nostream.a")
	if _, err := publishMsg(ctx, nc, none); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("no stream = %v; want ErrNoStreamResponse", err)
	}
}

// BenchmarkParsePubAck: an acknowledgement read from the template against encoding/json, which
// jetstream.PublishMsg used.
func BenchmarkParsePubAck(b *testing.B) {
	ack := []byte(`{"stream":"FD_MESSAGES","seq":1234567}`)
	b.Run("template", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parsePubAck(ack); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r struct {
				*jetstream.PubAck
				Error *jetstream.APIError `json:"error"`
			}
			if err := json.Unmarshal(ack, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
