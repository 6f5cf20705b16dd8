// Package logging builds the service's one zap logger from its config. There is no global
// logger: run builds it once and passes it down, narrowed with Named and With.
package logging

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

// New builds a logger writing to stderr: JSON with ISO8601 times (format json, the default) or
// a colourless console encoder (format console), at the configured level (default info).
func New(cfg config.Log) (*zap.Logger, error) {
	return NewTo(cfg, os.Stderr)
}

// NewTo is New writing to w, for a run function that is handed its output (and tests). Writes
// to w are serialised by zap.
func NewTo(cfg config.Log, w io.Writer) (*zap.Logger, error) {
	level := zapcore.InfoLevel
	if cfg.Level != "" {
		l, err := zapcore.ParseLevel(cfg.Level)
		if err != nil {
			return nil, fmt.Errorf("log.level: %w", err)
		}
		level = l
	}

	var enc zapcore.Encoder
	switch cfg.Format {
	case "", "json":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey = "time"
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		ec.EncodeDuration = zapcore.StringDurationEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, fmt.Errorf("log.format: unknown format %q (json or console)", cfg.Format)
	}

	ws := zapcore.Lock(zapcore.AddSync(w))
	core := zapcore.NewCore(enc, ws, zap.NewAtomicLevelAt(level))
	return zap.New(core,
		zap.AddCaller(),
		zap.AddStacktrace(zapcore.ErrorLevel),
		zap.ErrorOutput(ws),
	), nil
}
