package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// voice stores a recording in the attachment store as the gateway does and publishes the
// customer's voice message.
func (h *harness) voice(tenant, conv string, audio []byte) *fd.Message {
	h.t.Helper()
	ctx := context.Background()
	obj, err := h.js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		h.t.Fatal(err)
	}
	i := h.n.Add(1)
	id := fmt.Sprintf("att_voice%d", i)
	if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: id, Description: "voice.webm", Headers: nats.Header{
		subjects.AttachmentTenant: {tenant}, subjects.AttachmentConv: {conv}, subjects.AttachmentType: {"audio/webm"}}},
		bytes.NewReader(audio)); err != nil {
		h.t.Fatal(err)
	}
	m := &fd.Message{Id: fmt.Sprintf("m_voice%d", i), ClientId: fmt.Sprintf("v%d", i), Tenant: tenant, Conv: conv,
		From: &fd.Participant{Id: "cust-" + conv, Role: frames.RoleCustomer}, Kind: frames.KindAudio, CreatedAt: timestamppb.Now(),
		Attachment: &fd.Attachment{Id: id, Type: "audio/webm", Size: int64(len(audio)), Name: "voice.webm", DurationMs: 2100}}
	data, _ := proto.Marshal(m)
	msg := &nats.Msg{Subject: subjects.Messages(tenant, conv), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, subjects.DedupID(tenant, "cust-"+conv, m.ClientId))
	if _, err := h.js.PublishMsg(ctx, msg); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// whisper is an in-test OpenAI-compatible transcription endpoint: it checks the multipart
// request as the real one does and answers {"text": ...} with what the recording "says".
func whisper(t *testing.T, says map[string]string, calls *atomic.Int64) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/v1/audio/transcriptions" || r.Header.Get("Authorization") != "Bearer sk-voice" {
			http.Error(w, `{"error":{"message":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.FormValue("model") != "whisper-1" {
			http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
			return
		}
		f, fh, err := r.FormFile("file")
		if err != nil || fh.Header.Get("Content-Type") != "audio/webm" {
			http.Error(w, `{"error":{"message":"no audio"}}`, http.StatusBadRequest)
			return
		}
		audio, _ := io.ReadAll(f)
		text, ok := says[string(audio)]
		if !ok {
			http.Error(w, `{"error":{"message":"unintelligible"}}`, http.StatusUnprocessableEntity)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"text":%q}`, text)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// TestVoiceMessages: without speech-to-text the bot says it cannot listen and offers to type or
// a person; with it, the transcript is stored beside the voice message (kind transcript,
// reply_to the voice message) and the bot answers what was said. A recording the endpoint
// cannot transcribe gets the "cannot listen" answer, never silence.
func TestVoiceMessages(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	url := whisper(t, map[string]string{"RECORDING-1": "How long does shipping take?"}, &calls)
	deaf := knowledgeTenant(t, "deaf")
	listening := knowledgeTenant(t, "listening")
	listening.Bot.Transcription = &fd.Transcription{Endpoint: url, Model: "whisper-1", ApiKeyEnv: "VOICE_KEY", TimeoutS: 5}
	h := newHarness(t, deaf, options{env: map[string]string{"VOICE_KEY": "sk-voice"}})
	h.putTenant(listening)

	h.openConversation("deaf", "c1", frames.StateBot)
	v := h.voice("deaf", "c1", []byte("RECORDING-1"))
	reply := waitBot(t, h, "deaf", "c1", 1)[0].msg
	if !strings.Contains(reply.GetText(), "can't listen to voice messages") || reply.GetReplyTo() != v.GetId() {
		t.Fatalf("reply without speech-to-text: %q", reply.GetText())
	}

	h.openConversation("listening", "c2", frames.StateBot)
	v = h.voice("listening", "c2", []byte("RECORDING-1"))
	bm := waitBot(t, h, "listening", "c2", 2)
	tr, answer := bm[0].msg, bm[1].msg
	if tr.GetKind() != frames.KindTranscript || tr.GetText() != "How long does shipping take?" || tr.GetReplyTo() != v.GetId() {
		t.Fatalf("transcript %v", tr)
	}
	if !strings.Contains(strings.ToLower(answer.GetText()), "ship") || answer.GetKind() != frames.KindText {
		t.Fatalf("answer to the transcript %q", answer.GetText())
	}

	h.voice("listening", "c2", []byte("MUMBLE"))
	bm = waitBot(t, h, "listening", "c2", 3)
	if !strings.Contains(bm[2].msg.GetText(), "can't listen to voice messages") {
		t.Fatalf("untranscribable voice message answered %q", bm[2].msg.GetText())
	}
	if calls.Load() != 2 {
		t.Fatalf("%d transcription calls, want 2 (none for the tenant without speech-to-text)", calls.Load())
	}
}

func waitBot(t *testing.T, h *harness, tenant, conv string, n int) []stored {
	t.Helper()
	var bm []stored
	testkit.CheckFor(t, wait, 10*time.Millisecond, func() error {
		if bm = h.botMessages(tenant, conv); len(bm) < n {
			return fmt.Errorf("%d bot messages, want %d", len(bm), n)
		}
		return nil
	})
	return bm
}
