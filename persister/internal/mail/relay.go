package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the relay connection.
const (
	// TLSStartTLS upgrades a plain connection with STARTTLS, and refuses a relay that does not
	// offer it (the default).
	TLSStartTLS = "starttls"
	// TLSImplicit connects with TLS from the start (port 465).
	TLSImplicit = "tls"
	// TLSNone sends in the clear: only for a relay on the same host or in tests.
	TLSNone = "none"
)

// Relay is the SMTP relay's configuration (key persister.mail).
type Relay struct {
	// Addr is the relay's host:port; empty turns transcripts by email off.
	Addr string `mapstructure:"addr"`
	// TLS is starttls (default), tls or none.
	TLS string `mapstructure:"tls"`
	// Username authenticates with AUTH PLAIN (only over TLS, or to a relay on loopback).
	Username string `mapstructure:"username"`
	// PasswordFile names a file holding the password (a mounted secret); PasswordEnv an
	// environment variable. Never the password itself.
	PasswordFile string `mapstructure:"password_file"`
	PasswordEnv  string `mapstructure:"password_env"`
	// Hello is the name given in EHLO (default: localhost).
	Hello string `mapstructure:"hello"`
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration `mapstructure:"timeout"`
	// Poll is how often due transcripts are looked for (default 5s).
	Poll time.Duration `mapstructure:"poll"`
	// MaxAttempts is how many transient failures a transcript survives (default 8).
	MaxAttempts int `mapstructure:"max_attempts"`
}

// WithDefaults fills the unset fields.
func (r Relay) WithDefaults() Relay {
	if r.TLS == "" {
		r.TLS = TLSStartTLS
	}
	if r.Hello == "" {
		r.Hello = "localhost"
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	if r.Poll <= 0 {
		r.Poll = 5 * time.Second
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = 8
	}
	return r
}

// Validate checks the relay settings; errors name the key.
func (r Relay) Validate() error {
	if r.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(r.Addr); err != nil {
		return fmt.Errorf("persister.mail.addr: %w", err)
	}
	switch r.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return fmt.Errorf("persister.mail.tls: %q is not starttls, tls or none", r.TLS)
	}
	if r.PasswordFile != "" && r.PasswordEnv != "" {
		return errors.New("persister.mail.password_file and password_env: set one")
	}
	if r.PasswordEnv != "" && !strings.HasPrefix(r.PasswordEnv, "FRONTDESK_") {
		return errors.New("persister.mail.password_env: must start with FRONTDESK_")
	}
	return nil
}

// password reads the relay's password from its file or environment variable, each time (a
// rotated secret applies without a restart).
func (r Relay) password(getenv func(string) string) (string, error) {
	switch {
	case r.PasswordFile != "":
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("relay password: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case r.PasswordEnv != "":
		return getenv(r.PasswordEnv), nil
	}
	return "", nil
}

// errUncertain marks a failure after the relay may have taken the mail (the connection broke
// while it was answering the data): retrying could send it twice, so it is not retried.
var errUncertain = errors.New("the relay may have accepted the mail")

// Deliver sends msg from from to to through the relay. The TLS config may be nil (system
// roots). getenv reads the password's environment variable.
func (r Relay) Deliver(ctx context.Context, tlsConf *tls.Config, getenv func(string) string, from, to string, msg []byte) error {
	r = r.WithDefaults()
	ctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(r.Addr)
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", r.Addr)
	if err != nil {
		return fmt.Errorf("%w %s: %w", errConnect, r.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var c *smtp.Client
	switch r.TLS {
	case TLSImplicit:
		c = smtp.NewClient(tls.Client(conn, tlsConf))
	case TLSNone:
		c = smtp.NewClient(conn)
	default:
		c, err = smtp.NewClientStartTLS(conn, tlsConf)
		if err != nil {
			_ = conn.Close()
			return fmt.Errorf("%w %s: starttls: %w", errConnect, r.Addr, err)
		}
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(r.Hello); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if r.Username != "" {
		pw, err := r.password(getenv)
		if err != nil {
			return err
		}
		if err := c.Auth(sasl.NewPlainClient("", r.Username, pw)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return fmt.Errorf("rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := bytes.NewReader(msg).WriteTo(w); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if err := w.Close(); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return fmt.Errorf("data: %w", err) // the relay answered: it did not take it
		}
		return fmt.Errorf("data: %w: %w", errUncertain, err)
	}
	_ = c.Quit()
	return nil
}
