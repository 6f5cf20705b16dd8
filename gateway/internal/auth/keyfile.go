package auth

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
)

// LoadKeys reads the gateway's key set from inline JSON or, when that is empty, from file.
func LoadKeys(inline, file string) (*token.Keys, []byte, error) {
	data := []byte(inline)
	if len(bytes.TrimSpace(data)) == 0 {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, nil, fmt.Errorf("gateway key set: %w", err)
		}
	}
	k, err := token.ParseKeys(data)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway key set: %w", err)
	}
	return k, data, nil
}

// WatchKeyFile re-reads file every interval until ctx ends and stores a changed, valid key set
// in ring: a Kubernetes Secret updated in place (a rotation) takes effect without a restart. A
// file that does not parse is logged and the current keys stay.
func WatchKeyFile(ctx context.Context, file string, last []byte, ring *Ring, every time.Duration, log *zap.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		data, err := os.ReadFile(file)
		if err != nil || bytes.Equal(data, last) {
			if err != nil {
				log.Warn("gateway key set unreadable; keeping the current keys", zap.Error(err))
			}
			continue
		}
		k, err := token.ParseKeys(data)
		if err != nil {
			log.Error("gateway key set changed but does not parse; keeping the current keys", zap.Error(err))
			continue
		}
		last = data
		ring.Store(k)
		log.Info("gateway key set reloaded", zap.String("signing_kid", k.SigningKID()), zap.Int("keys", len(k.KIDs())))
	}
}
