package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	aibridge "github.com/frontdesk-chat/frontdesk/aibridge/app"
	dispatcher "github.com/frontdesk-chat/frontdesk/dispatcher/app"
	gateway "github.com/frontdesk-chat/frontdesk/gateway/app"
	persister "github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/services/config"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
	"github.com/frontdesk-chat/frontdesk/services/ops"
)

// runner runs one service in this process until ctx ends, configured from getenv exactly as
// its binary is from the environment. A non-nil inproc is the embedded NATS server: the
// service connects through it rather than over loopback TCP.
type runner func(ctx context.Context, getenv func(string) string, inproc nats.InProcessConnProvider, log *zap.Logger) error

// app adapts a service's app package to a runner; natsOf returns the config's NATS section.
func app[C any](defaults func() C, natsOf func(*C) *config.NATS, run func(context.Context, C, *zap.Logger) error) runner {
	return func(ctx context.Context, getenv func(string) string, inproc nats.InProcessConnProvider, log *zap.Logger) error {
		cfg := defaults()
		if err := config.Load("", getenv, &cfg); err != nil {
			return err
		}
		// Set after Load: it is not a setting the environment can carry.
		natsOf(&cfg).InProcess = inproc
		log.Debug("effective config", zap.Any("config", config.Redacted(cfg)))
		return run(ctx, cfg, log)
	}
}

func runners() map[string]runner {
	return map[string]runner{
		stack.Gateway:    app(gateway.DefaultConfig, func(c *gateway.Config) *config.NATS { return &c.NATS }, gateway.Run),
		stack.Dispatcher: app(dispatcher.DefaultConfig, func(c *dispatcher.Config) *config.NATS { return &c.NATS }, dispatcher.Run),
		stack.Persister:  app(persister.DefaultConfig, func(c *persister.Config) *config.NATS { return &c.NATS }, persister.Run),
		stack.AIBridge:   app(aibridge.DefaultConfig, func(c *aibridge.Config) *config.NATS { return &c.NATS }, aibridge.Run),
	}
}

// inProcess runs the services as goroutines, each with its own context so the gateway stops
// first.
type inProcess struct {
	cancels map[string]context.CancelFunc
	done    map[string]chan struct{}
	errs    map[string]error
	mu      sync.Mutex
	errc    chan error
}

// startInProcess starts the services; inproc, when not nil, is the embedded NATS server they
// connect to in memory (nil with an external NATS: they dial set.NATSURL).
func startInProcess(ctx context.Context, set stack.Settings, inproc nats.InProcessConnProvider, log *zap.Logger) (*inProcess, error) {
	p := &inProcess{
		cancels: map[string]context.CancelFunc{},
		done:    map[string]chan struct{}{},
		errs:    map[string]error{},
		errc:    make(chan error, 4),
	}
	rs := runners()
	log.Info("starting the services in this process")
	for _, name := range stack.Names() {
		// Not derived from ctx: a Ctrl-C must not stop every service at once; stop does it in
		// order.
		sctx, cancel := context.WithCancel(ops.WithService(context.WithoutCancel(ctx), name))
		done := make(chan struct{})
		p.cancels[name], p.done[name] = cancel, done
		go func() {
			defer close(done)
			err := rs[name](sctx, stack.Getenv(set.Env(name)), inproc, log.Named(name))
			p.mu.Lock()
			p.errs[name] = err
			p.mu.Unlock()
			if sctx.Err() == nil {
				p.errc <- fmt.Errorf("%s stopped: %v", name, err)
			}
		}()
	}
	return p, nil
}

func (p *inProcess) failed() <-chan error { return p.errc }

func (p *inProcess) stop() error {
	order := [][]string{{stack.Gateway}, {stack.AIBridge, stack.Dispatcher, stack.Persister}}
	for _, group := range order {
		for _, n := range group {
			p.cancels[n]()
		}
		for _, n := range group {
			<-p.done[n]
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for n, err := range p.errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s: %w", n, err))
		}
	}
	return errors.Join(errs...)
}
