package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// processes runs the services as separate processes.
type processes struct {
	ps   *stack.Processes
	errc chan error
}

func startProcesses(ctx context.Context, set stack.Settings, bin string, log *zap.Logger) (*processes, error) {
	for _, n := range stack.Names() {
		if _, err := os.Stat(filepath.Join(bin, n)); err != nil {
			return nil, fmt.Errorf("no %s binary in %s (run make build): %w", n, bin, err)
		}
	}
	var mu sync.Mutex
	out := func(svc string) io.Writer {
		return &prefixWriter{mu: &mu, w: os.Stderr, prefix: fmt.Sprintf("%-10s| ", svc)}
	}
	log.Info("starting the services as processes", zap.String("bin", bin))
	ps, err := stack.StartProcesses(ctx, set, stack.ProcessOptions{BinDir: bin, Output: out})
	if err != nil {
		return nil, err
	}
	p := &processes{ps: ps, errc: make(chan error, len(ps.Procs))}
	for name, proc := range ps.Procs {
		done := proc.Done()
		go func() {
			<-done
			p.errc <- fmt.Errorf("%s exited: %v", name, proc.ExitErr())
		}()
	}
	return p, nil
}

func (p *processes) failed() <-chan error { return p.errc }

func (p *processes) stop() error { return p.ps.Stop(15 * time.Second) }
