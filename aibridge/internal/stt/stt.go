// Package stt turns voice messages into text with an OpenAI-compatible speech-to-text endpoint:
// POST <endpoint>/audio/transcriptions, multipart fields file and model, JSON reply {"text"}.
package stt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// MaxAudioBytes is the largest recording sent for transcription (the OpenAI API's own limit).
const MaxAudioBytes = 25 << 20

// maxReplyBytes bounds the endpoint's answer.
const maxReplyBytes = 1 << 20

// ErrTooLarge is returned for audio over MaxAudioBytes.
var ErrTooLarge = errors.New("audio too large to transcribe")

// Request is one recording to transcribe.
type Request struct {
	// Endpoint is the API base URL (…/v1).
	Endpoint string
	// Model names the transcription model.
	Model string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Name and Type are the file's name and MIME type (audio/webm, audio/ogg...).
	Name, Type string
	// Audio is the recording.
	Audio []byte
	// Timeout bounds the call (default 30 s).
	Timeout time.Duration
}

// Client calls transcription endpoints.
type Client struct{ HTTP *http.Client }

// Transcribe returns the text of r's recording.
func (c *Client) Transcribe(ctx context.Context, r Request) (string, error) {
	if len(r.Audio) > MaxAudioBytes {
		return "", ErrTooLarge
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.WriteField("model", r.Model); err != nil {
		return "", err
	}
	if err := w.WriteField("response_format", "json"); err != nil {
		return "", err
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, safeName(r.Name)))
	h.Set("Content-Type", r.Type)
	part, err := w.CreatePart(h)
	if err != nil {
		return "", err
	}
	if _, err := part.Write(r.Audio); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.Endpoint, "/")+"/audio/transcriptions", &body)
	if err != nil {
		return "", fmt.Errorf("transcription request: %w", err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	if r.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+r.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("transcribe: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return "", fmt.Errorf("transcribe: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		return "", fmt.Errorf("transcribe: HTTP %d %s", resp.StatusCode, e.Error.Message)
	}
	var out struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return "", fmt.Errorf("transcribe: reply: %w", err)
	}
	return strings.TrimSpace(out.Text), nil
}

// safeName keeps a file name printable in a header.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "voice"
	}
	return s
}
