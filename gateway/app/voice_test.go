package app_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Recordings as browsers make them: the container's first bytes, with the track type where a
// sniffer looks for it.
var (
	webmAudio = append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 'w', 'e', 'b', 'm',
		0x16, 0x54, 0xAE, 0x6B, 0x83, 0x81, 0x02, 0x86, 0x86, 'A', '_', 'O', 'P', 'U', 'S'}, bytes.Repeat([]byte{7}, 200)...)
	webmVideo = append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 'w', 'e', 'b', 'm',
		0x16, 0x54, 0xAE, 0x6B, 0x83, 0x81, 0x01, 0x86, 0x85, 'V', '_', 'V', 'P', '8'}, bytes.Repeat([]byte{7}, 200)...)
	oggOpus = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead"), bytes.Repeat([]byte{3}, 200)...)
	pdf     = []byte("%PDF-1.4\n% a file\n")
)

// TestVoiceAndFiles: recordings are sniffed as audio (WebM or Ogg with an audio track; a WebM
// video is not audio), sent as kind audio with their length, refused as kind audio when they
// are not audio, and served to participants only; files download as attachments.
func TestVoiceAndFiles(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	custTok := apptest.Token(t, "acme", "voice1", frames.RoleCustomer)
	c, _ := g.Dial(t, custTok)
	c.Send(apptest.Text("v0", "", "hello"))
	conv := c.Await(frames.TypeAck).GetConv()
	upload := func(name string, data []byte) (int, map[string]any) { return g.Upload(t, custTok, conv, name, data) }
	tests := []struct {
		name   string
		data   []byte
		status int
		typ    string
	}{
		{"voice.webm", webmAudio, http.StatusOK, "audio/webm"},
		{"voice.ogg", oggOpus, http.StatusOK, "audio/ogg"},
		{"clip.webm", webmVideo, http.StatusUnsupportedMediaType, ""},
		{"order.pdf", pdf, http.StatusOK, "application/pdf"},
	}
	ids := map[string]string{}
	for _, tc := range tests {
		status, out := upload(tc.name, tc.data)
		if status != tc.status || (tc.typ != "" && out["type"] != tc.typ) {
			t.Fatalf("%s: %d %v, want %d %s", tc.name, status, out, tc.status, tc.typ)
		}
		if id, ok := out["id"].(string); ok {
			ids[tc.name] = id
		}
	}

	c.Send(&fd.ClientFrame{Type: frames.TypeSend, Id: "v1", Conv: conv, Kind: frames.KindAudio,
		Attachment: &fd.Attachment{Id: ids["voice.webm"], DurationMs: 4200}})
	m := c.Await(frames.TypeMessage, hasIDClient("v1"))
	if m.GetKind() != frames.KindAudio || m.GetAttachment().GetType() != "audio/webm" || m.GetAttachment().GetDurationMs() != 4200 {
		t.Fatalf("voice message %v", m)
	}
	c.Send(&fd.ClientFrame{Type: frames.TypeSend, Id: "v2", Conv: conv, Kind: frames.KindAudio,
		Attachment: &fd.Attachment{Id: ids["order.pdf"]}})
	if f := c.Await(frames.TypeError, apptest.HasID("v2")); f.GetCode() != frames.CodeBadFrame {
		t.Fatalf("a PDF sent as audio: %v", f)
	}

	get := func(id, token string) *http.Response {
		resp, err := http.Get(g.URL + "/v1/attachments/" + id + "?token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if r := get(ids["voice.ogg"], custTok); r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "audio/ogg" ||
		strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("voice download: %d %q %q", r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
	if r := get(ids["order.pdf"], custTok); r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("file download: %d %q", r.StatusCode, r.Header.Get("Content-Disposition"))
	}
	if r := get(ids["voice.webm"], apptest.Token(t, "acme", "stranger", frames.RoleCustomer)); r.StatusCode != http.StatusForbidden {
		t.Fatalf("stranger download of a voice message: %d", r.StatusCode)
	}
}
