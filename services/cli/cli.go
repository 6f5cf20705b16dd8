// Package cli is the body every service binary shares: the -config and --version flags,
// configuration loading, the logger, the logged effective configuration, and the exit status.
// A service's main names itself, its defaults and its run function, and nothing else.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/buildinfo"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/logging"
	"github.com/frontdesk-chat/frontdesk/services/ops"
)

// Service describes one service binary whose configuration type is C.
type Service[C any] struct {
	// Name is the binary's name, used in --version, logs and error messages.
	Name string
	// Defaults returns the configuration defaults, before the file and the environment.
	Defaults func() C
	// Run runs the service until ctx ends, then shuts it down.
	Run func(ctx context.Context, cfg C, log *zap.Logger) error
	// Commands are one-shot subcommands chosen by the first argument (e.g. "migrate"); they
	// take the same flags and configuration as Run.
	Commands map[string]func(ctx context.Context, cfg C, log *zap.Logger) error
	// ArgCommands are subcommands that also take positional arguments (e.g. "erase <tenant>
	// <user> <by>"): the arguments that are neither flags nor flag values, in order.
	ArgCommands map[string]func(ctx context.Context, cfg C, log *zap.Logger, args []string) error
	// Logger is where logging.New's output goes; nil means standard error.
	Logger io.Writer
}

// Main runs the service with the process's arguments and environment until SIGINT or SIGTERM,
// and exits non-zero on error.
func Main[C any](s Service[C]) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := s.Execute(ctx, os.Args, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", s.Name, err)
		os.Exit(1)
	}
}

// Execute parses args (os.Args style, program name first), loads the configuration from the
// -config file and getenv, builds the logger and runs the service or the chosen subcommand
// with a context naming the service (ops.WithService). --version prints buildinfo to stdout
// and returns nil.
func (s Service[C]) Execute(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		args = args[1:]
	}
	run, command := s.Run, ""
	if len(args) > 0 {
		if fn, ok := s.Commands[args[0]]; ok {
			run, command, args = fn, args[0], args[1:]
		} else if fn, ok := s.ArgCommands[args[0]]; ok {
			var pos []string
			command = args[0]
			args, pos = splitPositional(args[1:])
			run = func(ctx context.Context, cfg C, log *zap.Logger) error { return fn(ctx, cfg, log, pos) }
		}
	}
	file, err := config.FlagFile(append([]string{s.Name}, args...))
	if errors.Is(err, config.ErrVersion) {
		_, err = fmt.Fprintln(stdout, buildinfo.String(s.Name))
		return err
	}
	if err != nil {
		return err
	}
	cfg := s.Defaults()
	if err := config.Load(file, getenv, &cfg); err != nil {
		return err
	}
	var log *zap.Logger
	if s.Logger != nil {
		log, err = logging.NewTo(logConfig(cfg), s.Logger)
	} else {
		log, err = logging.New(logConfig(cfg))
	}
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("service", s.Name))
	fields := []zap.Field{zap.String("version", buildinfo.String(s.Name)), zap.Any("config", config.Redacted(cfg))}
	if command != "" {
		fields = append(fields, zap.String("command", command))
	}
	log.Info("starting", fields...)
	// The ops server started under this context exports frontdesk_build_info for s.Name.
	return run(ops.WithService(ctx, s.Name), cfg, log)
}

// splitPositional separates flags (and the values of -config) from positional arguments.
func splitPositional(args []string) (flags, pos []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-config" || a == "--config":
			flags = append(flags, a)
			if i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
		default:
			pos = append(pos, a)
		}
	}
	return flags, pos
}

// logConfig finds the Log section of a service configuration that embeds config.Base.
func logConfig(cfg any) config.Log {
	if b, ok := cfg.(interface{ LogConfig() config.Log }); ok {
		return b.LogConfig()
	}
	return config.DefaultBase().Log
}
