package streams_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Every declared asset has a storage cap that fits the configured storage, and an override
// wins over the share.
func TestEveryAssetHasACap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    streams.Options
		storage int64
	}{
		{"default", streams.Options{}, streams.DefaultStorageBytes},
		{"sized", streams.Options{StorageBytes: 100 << 30}, 100 << 30},
		{"override", streams.Options{StorageBytes: 100 << 30, MaxBytes: map[string]int64{subjects.ObjectAttachments: 1 << 30}}, 100 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := streams.Declared(tt.opts)
			caps := map[string]int64{}
			for _, s := range top.Streams {
				caps[s.Name] = s.MaxBytes
				wantDiscard := jetstream.DiscardNew
				if s.Name == subjects.StreamDeadLetters {
					wantDiscard = jetstream.DiscardOld
				}
				if s.Discard != wantDiscard {
					t.Errorf("stream %s discards %v, want %v", s.Name, s.Discard, wantDiscard)
				}
			}
			for _, k := range top.KV {
				caps[k.Bucket] = k.MaxBytes
			}
			for _, o := range top.Objects {
				caps[o.Bucket] = o.MaxBytes
			}
			var sum int64
			for name, c := range caps {
				if c <= 0 {
					t.Errorf("%s has no cap", name)
				}
				sum += c
			}
			if sum > tt.storage {
				t.Errorf("caps sum to %d, more than the storage %d", sum, tt.storage)
			}
			if o := tt.opts.MaxBytes[subjects.ObjectAttachments]; o > 0 && caps[subjects.ObjectAttachments] != o {
				t.Errorf("attachments cap %d, want the override %d", caps[subjects.ObjectAttachments], o)
			}
		})
	}
}

// A full messages stream refuses the next publish instead of dropping a stored message: what
// was acknowledged stays.
func TestFullMessagesStreamRefusesNewKeepsOld(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	_, js := testkit.Connect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	top := streams.Declared(streams.Options{MaxBytes: map[string]int64{subjects.StreamMessages: 4 << 10}}).Only(subjects.StreamMessages)
	if err := streams.Provision(ctx, js, top); err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 1000))
	var stored int
	var refused error
	for i := range 20 {
		_, err := js.Publish(ctx, subjects.Messages("t1", "c1"), body, jetstream.WithMsgID(string(rune('a'+i))))
		if err != nil {
			refused = err
			break
		}
		stored++
	}
	if refused == nil {
		t.Fatal("20 KB published into a 4 KiB stream without a refusal")
	}
	var apiErr *jetstream.APIError
	if !errors.As(refused, &apiErr) {
		t.Logf("refusal: %v", refused)
	}
	s, err := js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(info.State.Msgs) != stored || info.State.FirstSeq != 1 {
		t.Errorf("stream holds %d messages from seq %d, want the %d acknowledged from 1", info.State.Msgs, info.State.FirstSeq, stored)
	}
}
