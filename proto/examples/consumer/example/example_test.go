package example

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines is a writer that fails once it has been given max lines, and tells when it has.
type lines struct {
	mu   sync.Mutex
	max  int
	b    bytes.Buffer
	full chan struct{}
}

var errFull = errors.New("output closed")

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if strings.Count(l.b.String(), "\n") >= l.max {
		return 0, errFull
	}
	l.b.Write(p)
	if strings.Count(l.b.String(), "\n") == l.max {
		close(l.full)
	}
	return len(p), nil
}

// TestCommandRun: a command consumes with the durable its flags name and prints its snapshot as
// JSON lines; it returns nil when its context ends, and an output it cannot write ends it with
// an error naming what it prints, the consumer stopped and waited for in both cases.
func TestCommandRun(t *testing.T) {
	srv := testkit.RunNATS(t)
	tests := []struct {
		name      string
		maxLines  int
		cancelled bool   // the context ends once two lines are out
		wantErr   string // "" for none
	}{
		{name: "until the context ends", maxLines: 2, cancelled: true},
		{name: "until the output fails", maxLines: 2, wantErr: "print figures: output closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ticks atomic.Int64
			var gotDurable atomic.Value
			c := Command{Name: "test", Durable: "default-durable", Figures: "figures",
				Consume: func(ctx context.Context, js jetstream.JetStream, durable string) error {
					gotDurable.Store(durable)
					<-ctx.Done()
					return ctx.Err()
				},
				Snapshot: func() any { return map[string]int64{"n": ticks.Add(1)} },
			}
			out := &lines{max: tt.maxLines, full: make(chan struct{})}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if tt.cancelled {
				go func() { <-out.full; cancel() }()
			}
			err := c.Run(ctx, []string{"test", "-nats", srv.URL(), "-durable", "mine", "-every", "10ms"}, out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("Run: %v, want %q", err, tt.wantErr)
			}
			if got, _ := gotDurable.Load().(string); got != "mine" {
				t.Fatalf("consumed with durable %q, want mine", got)
			}
			dec := json.NewDecoder(strings.NewReader(out.b.String()))
			for i := int64(1); i <= int64(tt.maxLines); i++ {
				var snap map[string]int64
				if err := dec.Decode(&snap); err != nil || snap["n"] != i {
					t.Fatalf("line %d: %v, %v; output %q", i, snap, err, out.b.String())
				}
			}
		})
	}
}
