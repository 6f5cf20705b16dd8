package session

// A JetStream publish whose acknowledgement is read without encoding/json. jetstream's
// PublishMsg decodes every acknowledgement with encoding/json, by reflection: 2.5% of the
// one-process system's CPU at 1,000 messages a second and 500 replies (BENCHMARKS.md, "Issue
// 18, session 9"), for a reply the server writes from a fixed template. That form is read
// directly here; any other (an API error, a field a later server adds) goes through
// encoding/json as before, so nothing the server says is misread, only the common case is
// cheaper. The request and its retries are PublishMsg's.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishMsg publishes m to its stream and returns the server's acknowledgement, retrying a
// publish nobody answered (a leader election under way) as jetstream.PublishMsg does, with its
// defaults, and failing as it does.
func publishMsg(ctx context.Context, nc *nats.Conn, m *nats.Msg) (*jetstream.PubAck, error) {
	resp, err := nc.RequestMsgWithContext(ctx, m)
	for r := 0; errors.Is(err, nats.ErrNoResponders) && r < jetstream.DefaultPubRetryAttempts; r++ {
		t := time.NewTimer(jetstream.DefaultPubRetryWait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		resp, err = nc.RequestMsgWithContext(ctx, m)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, jetstream.ErrNoStreamResponse
	}
	if err != nil {
		return nil, err
	}
	return parsePubAck(resp.Data)
}

// parsePubAck reads a publish's acknowledgement: the server's template
// {"stream":"S"[,"domain":"D"],"seq":N} or {...,"seq":N,"duplicate": true} directly, anything
// else as JSON.
func parsePubAck(b []byte) (*jetstream.PubAck, error) {
	if a, ok := templateAck(b); ok {
		return a, nil
	}
	var r struct {
		*jetstream.PubAck
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, jetstream.ErrInvalidJSAck
	}
	if r.Error != nil {
		return nil, fmt.Errorf("nats: %w", r.Error)
	}
	if r.PubAck == nil || r.PubAck.Stream == "" {
		return nil, jetstream.ErrInvalidJSAck
	}
	return r.PubAck, nil
}

// templateAck reads b if it is exactly one of the server's success templates. Stream and
// domain names cannot hold a quote or a backslash (the server refuses them), so a quoted name
// ends at the next quote; anything unexpected is not ok, for encoding/json to read.
func templateAck(b []byte) (*jetstream.PubAck, bool) {
	a := &jetstream.PubAck{}
	var ok bool
	if b, ok = bytes.CutPrefix(b, []byte(`{"stream":`)); !ok {
		return nil, false
	}
	if a.Stream, b, ok = quoted(b); !ok || a.Stream == "" {
		return nil, false
	}
	if rest, found := bytes.CutPrefix(b, []byte(`,"domain":`)); found {
		if a.Domain, b, ok = quoted(rest); !ok {
			return nil, false
		}
	}
	if b, ok = bytes.CutPrefix(b, []byte(`,"seq":`)); !ok {
		return nil, false
	}
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	seq, err := strconv.ParseUint(string(b[:i]), 10, 64)
	if err != nil {
		return nil, false
	}
	a.Sequence = seq
	switch string(b[i:]) {
	case `}`:
	case `,"duplicate": true}`, `,"duplicate":true}`:
		a.Duplicate = true
	default:
		return nil, false
	}
	return a, true
}

// quoted reads a JSON string without escapes at the start of b and returns it and what follows.
func quoted(b []byte) (s string, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 || bytes.IndexByte(b[1:1+end], '\\') >= 0 {
		return "", nil, false
	}
	return string(b[1 : 1+end]), b[2+end:], true
}
