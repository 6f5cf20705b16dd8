package main

import (
	"context"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// readFrames reads and decodes server frames from c until the connection ends, ctx ends or fn
// returns false, handing each to fn with the time it was read (taken before decoding, so the
// decoder's cost is not counted as the system's latency). Undecodable frames are skipped. It is
// the one read loop of every client of the load generator.
func readFrames(ctx context.Context, c *websocket.Conn, fn func(now time.Time, f *fd.ServerFrame) bool) error {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		f := &fd.ServerFrame{}
		if protojson.Unmarshal(data, f) != nil {
			continue
		}
		if !fn(now, f) {
			return nil
		}
	}
}
