package stt

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeWhisper is an in-test server speaking the transcription API: it checks the request as the
// OpenAI API would and answers as it does.
func fakeWhisper(t *testing.T, status int, reply string) (*httptest.Server, *http.Request, *[]byte) {
	t.Helper()
	var got http.Request
	var audio []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = *r.Clone(context.Background())
		if r.Method != http.MethodPost || r.URL.Path != "/v1/audio/transcriptions" {
			http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
			return
		}
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			http.Error(w, `{"error":{"message":"bad form"}}`, http.StatusBadRequest)
			return
		}
		if r.FormValue("model") != "whisper-1" {
			http.Error(w, `{"error":{"message":"model"}}`, http.StatusBadRequest)
			return
		}
		f, fh, err := r.FormFile("file")
		if err != nil || fh.Header.Get("Content-Type") != "audio/webm" || fh.Filename != "voice.webm" {
			http.Error(w, `{"error":{"message":"file"}}`, http.StatusBadRequest)
			return
		}
		audio, _ = io.ReadAll(f)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, &got, &audio
}

func TestTranscribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		reply   string
		want    string
		wantErr string
	}{
		{"text", 200, `{"text":"  Where is my parcel?  "}`, "Where is my parcel?", ""},
		{"api error", 429, `{"error":{"message":"Rate limit reached","type":"requests"}}`, "", "HTTP 429 Rate limit reached"},
		{"not json", 200, `<html>`, "", "reply"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got, audio := fakeWhisper(t, tc.status, tc.reply)
			text, err := (&Client{}).Transcribe(context.Background(), Request{Endpoint: srv.URL + "/v1/", Model: "whisper-1",
				APIKey: "sk-test", Name: "voice.webm", Type: "audio/webm", Audio: []byte("OPUS DATA")})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || text != tc.want {
				t.Fatalf("text %q, err %v", text, err)
			}
			if got.Header.Get("Authorization") != "Bearer sk-test" || string(*audio) != "OPUS DATA" {
				t.Fatalf("auth %q, audio %q", got.Header.Get("Authorization"), *audio)
			}
		})
	}
	if _, err := (&Client{}).Transcribe(context.Background(), Request{Audio: make([]byte, MaxAudioBytes+1)}); err != ErrTooLarge {
		t.Fatalf("oversized audio: %v", err)
	}
}
