package services_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/lifecycle"
	"github.com/frontdesk-chat/frontdesk/services/logging"
	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/startup"
	"github.com/frontdesk-chat/frontdesk/services/streams"
)

// Settings is the service's own section.
type Settings struct {
	// Listen is the service's public address.
	Listen string `mapstructure:"listen"`
}

// Config is the whole configuration of the example service.
type Config struct {
	config.Base `mapstructure:",squash"`
	Example     Settings `mapstructure:"example"`
}

// Validate checks the common sections, then the service's own.
func (c Config) Validate() error {
	return errors.Join(c.Base.Validate(), config.Required("example.listen", c.Example.Listen))
}

// run is what main calls: it wires the service from the chassis and stops it in order.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	file, err := config.FlagFile(args)
	if errors.Is(err, config.ErrVersion) {
		_, err = fmt.Fprintln(stdout, buildinfo.String("example"))
		return err
	}
	if err != nil {
		return err
	}
	cfg := Config{Base: config.DefaultBase(), Example: Settings{Listen: ":8080"}}
	cfg.NATS.Name = "example"
	if err := config.Load(file, getenv, &cfg); err != nil {
		return err
	}
	log, err := logging.NewTo(cfg.Log, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log.Info("starting", zap.String("version", buildinfo.Version), zap.Any("config", config.Redacted(cfg)))

	stack := lifecycle.NewStack(log)
	fail := func(err error) error { return errors.Join(err, stack.Shutdown(ctx, cfg.Shutdown.Timeout)) }
	// Ops server, tracing and NATS with their stops on the stack (startup.Begin); the ops
	// server is started once every check that guards readiness is registered.
	base, err := startup.Begin(ctx, stack, cfg.Base, "example", log, ops.NewRegistry(), startup.Options{})
	if err != nil {
		return fail(err)
	}
	started := base.Ops.AddPending("started", "starting: waiting for the tenant view")
	if err := base.Ops.Start(ctx); err != nil {
		return fail(err)
	}
	// A provisioner creates the topology before services start; a service only waits for
	// what it uses (its NATS user may not create or change streams).
	top := streams.Declared(streams.Options{Replicas: cfg.NATS.Replicas}).Only(subjects.BucketTenants)
	if err := streams.Await(ctx, base.JS, top, log); err != nil {
		return fail(err)
	}
	// The tenant view outlives ctx until the stack stops it, so work draining at shutdown
	// keeps it; the stack then waits for the watcher.
	store, err := startup.Tenants(ctx, stack, base.JS, cfg.Tenants.File, base.Ops, log)
	if err != nil {
		return fail(err)
	}
	store.OnChange(func(id string, _ *frontdeskv1.Tenant) { log.Info("tenant changed", zap.String("tenant", id)) })

	// The service's own work runs in goroutines the stack owns: cancelled at shutdown (in
	// reverse order, before the connections it uses) and waited for.
	work := stack.Go(ctx, "work", func(ctx context.Context) error {
		<-ctx.Done() // ... consume, answer, tick ...
		return nil
	})

	started()
	select {
	case <-ctx.Done():
	case <-work.Done():
		err = work.Err()
	}
	base.Ops.SetDraining()
	return errors.Join(err, stack.Shutdown(ctx, cfg.Shutdown.Timeout))
}

// Example shows the composition root of a service built on the chassis.
func Example() {
	main := func() {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	_ = main // a real main calls it
}
