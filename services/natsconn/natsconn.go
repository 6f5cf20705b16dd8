// Package natsconn opens the service's NATS connection: named, authenticated, retrying forever
// with jittered backoff, logging its state changes and exporting them as Prometheus metrics.
package natsconn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/config"
)

// maxBackoffFactor caps the reconnect delay at this multiple of ReconnectWait, so a service
// comes back within seconds of NATS, not minutes.
const maxBackoffFactor = 4

// Connect connects to cfg.URL, or through cfg.InProcess when it is set (a server embedded in
// this process: same authentication, no loopback TCP). It returns at once even when no server answers
// (RetryOnFailedConnect): the connection keeps trying in the background, publishes are
// buffered meanwhile, and Ready reports the outage. Use WaitConnected before work that needs a
// live server (provisioning). Build cfg from config.DefaultBase: its MaxReconnects of -1 is
// what keeps a service retrying, a zero value would give up at once. Metrics are registered on reg when it is not nil; the
// collector is labelled with the connection name, so one registry can hold several
// connections with different names.
func Connect(ctx context.Context, cfg config.NATS, log *zap.Logger, reg prometheus.Registerer) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nats connect: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	// Every URL logged goes through config.RedactURL: nats.go's own redaction masks passwords
	// but not a token (nats://token@host).
	log = log.With(zap.String("nats_url", config.RedactURL(cfg.URL)))
	m := &collector{}

	wait := cfg.ReconnectWait
	if wait <= 0 {
		wait = 2 * time.Second
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(cfg.MaxReconnects),
		nats.ReconnectWait(wait),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(wait, attempts) }),
		// Detect a dead server in ~30s instead of the default 4 minutes.
		nats.PingInterval(10 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("nats connected", zap.String("server", config.RedactURL(nc.ConnectedUrl())))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", zap.Error(err))
				return
			}
			log.Info("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", zap.String("server", config.RedactURL(nc.ConnectedUrl())))
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Debug("nats reconnect attempt failed", zap.Error(err))
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				log.Warn("nats connection closed", zap.Error(err))
				return
			}
			log.Info("nats connection closed")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			m.asyncErrors.Add(1)
			fields := []zap.Field{zap.Error(err)}
			if sub != nil {
				fields = append(fields, zap.String("subject", sub.Subject))
				if errors.Is(err, nats.ErrSlowConsumer) {
					pending, _, _ := sub.Pending()
					fields = append(fields, zap.Int("pending_msgs", pending))
				}
			}
			log.Error("nats async error", fields...)
		}),
	}
	if cfg.ConnectTimeout > 0 {
		opts = append(opts, nats.Timeout(cfg.ConnectTimeout))
	}
	if cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.TLS.CA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLS.CA))
	}
	if cfg.TLS.Cert != "" || cfg.TLS.Key != "" {
		opts = append(opts, nats.ClientCert(cfg.TLS.Cert, cfg.TLS.Key))
	}

	if cfg.InProcess != nil {
		opts = append(opts, nats.InProcessServer(cfg.InProcess))
	}

	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats connect %s: %w", config.RedactURL(cfg.URL), err)
	}
	if reg != nil {
		m.init(nc, cfg.Name)
		if err := reg.Register(m); err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats connect: register metrics: %w", err)
		}
	}
	// With RetryOnFailedConnect the connect handler reports the first connection too.
	if !nc.IsConnected() {
		log.Warn("nats not reachable yet, retrying in the background")
	}
	return nc, nil
}

// backoff is the delay before reconnect round attempts (1-based): exponential from wait, capped
// at maxBackoffFactor*wait, with "equal jitter" (half fixed, half random) so that a fleet of
// services does not reconnect in lockstep after a NATS restart.
func backoff(wait time.Duration, attempts int) time.Duration {
	shift := min(max(attempts-1, 0), 10)
	d := min(wait<<shift, maxBackoffFactor*wait)
	half := d / 2
	return half + rand.N(half+1)
}

// Ready returns a readiness check: an error unless nc is connected and answers a flush round
// trip within the context's deadline (2s when the context has none).
func Ready(nc *nats.Conn) func(context.Context) error {
	return func(ctx context.Context) error {
		if s := nc.Status(); s != nats.CONNECTED {
			return fmt.Errorf("nats %s", s)
		}
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
		}
		if err := nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("nats flush: %w", err)
		}
		return nil
	}
}

// WaitConnected blocks until nc is connected or ctx ends. Services call it before provisioning
// or anything else that needs a live server, since Connect returns while still retrying.
func WaitConnected(ctx context.Context, nc *nats.Conn) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		switch nc.Status() {
		case nats.CONNECTED:
			return nil
		case nats.CLOSED:
			return fmt.Errorf("nats: %w", nats.ErrConnectionClosed)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: wait for connection (%s): %w", nc.Status(), ctx.Err())
		case <-t.C:
		}
	}
}

// Drain drains nc for shutdown: subscriptions stop taking new messages, the ones already
// received are handled, pending publishes are flushed, then the connection closes. It waits
// until the connection is closed or ctx ends, in which case it closes it at once.
func Drain(ctx context.Context, nc *nats.Conn) error {
	if nc.IsClosed() {
		return nil
	}
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("nats drain: %w", err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("nats drain: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// collector exports the connection's state. It reads nc.Stats() at scrape time, so it costs
// nothing between scrapes.
type collector struct {
	nc          *nats.Conn
	asyncErrors atomic.Uint64

	connected, reconnectsDesc, asyncErrorsDesc *prometheus.Desc
	inMsgs, outMsgs, inBytes, outBytes         *prometheus.Desc
}

func (c *collector) init(nc *nats.Conn, name string) {
	c.nc = nc
	labels := prometheus.Labels{"connection": name}
	d := func(n, help string) *prometheus.Desc {
		return prometheus.NewDesc("frontdesk_nats_"+n, help, nil, labels)
	}
	c.connected = d("connected", "1 when the NATS connection is connected, else 0.")
	c.reconnectsDesc = d("reconnects_total", "Reconnections of the NATS connection.")
	c.asyncErrorsDesc = d("async_errors_total", "Asynchronous NATS errors (slow consumers, permission violations).")
	c.inMsgs = d("in_msgs_total", "Messages received on the NATS connection.")
	c.outMsgs = d("out_msgs_total", "Messages sent on the NATS connection.")
	c.inBytes = d("in_bytes_total", "Payload bytes received on the NATS connection.")
	c.outBytes = d("out_bytes_total", "Payload bytes sent on the NATS connection.")
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connected, c.reconnectsDesc, c.asyncErrorsDesc, c.inMsgs, c.outMsgs, c.inBytes, c.outBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	connected := 0.0
	if c.nc.IsConnected() {
		connected = 1
	}
	s := c.nc.Stats()
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(c.reconnectsDesc, prometheus.CounterValue, float64(s.Reconnects))
	ch <- prometheus.MustNewConstMetric(c.asyncErrorsDesc, prometheus.CounterValue, float64(c.asyncErrors.Load()))
	ch <- prometheus.MustNewConstMetric(c.inMsgs, prometheus.CounterValue, float64(s.InMsgs))
	ch <- prometheus.MustNewConstMetric(c.outMsgs, prometheus.CounterValue, float64(s.OutMsgs))
	ch <- prometheus.MustNewConstMetric(c.inBytes, prometheus.CounterValue, float64(s.InBytes))
	ch <- prometheus.MustNewConstMetric(c.outBytes, prometheus.CounterValue, float64(s.OutBytes))
}
