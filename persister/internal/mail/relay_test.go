package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	fdmail "github.com/frontdesk-chat/frontdesk/persister/internal/mail"
)

// tlsRelay is a real SMTP server (go-smtp) that offers STARTTLS (starttls) or speaks TLS from
// the first byte (implicit), asks for AUTH PLAIN as relay/secret when auth is set, and records
// each mail it takes with whether the connection was encrypted and who authenticated.
type tlsRelay struct {
	addr string
	mu   sync.Mutex
	got  []relayed
}

type relayed struct {
	tls  bool
	user string
	to   string
	data string
}

type relaySession struct {
	r    *tlsRelay
	c    *smtp.Conn
	auth bool
	user string
	to   string
}

func (x *relaySession) Reset()        { x.to = "" }
func (x *relaySession) Logout() error { return nil }
func (x *relaySession) AuthMechanisms() []string {
	if !x.auth {
		return nil
	}
	return []string{sasl.Plain}
}
func (x *relaySession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "relay" || pass != "s3cret-relay" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		x.user = user
		return nil
	}), nil
}
func (x *relaySession) Mail(string, *smtp.MailOptions) error {
	if x.auth && x.user == "" {
		return smtp.ErrAuthRequired
	}
	return nil
}
func (x *relaySession) Rcpt(to string, _ *smtp.RcptOptions) error { x.to = to; return nil }
func (x *relaySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, encrypted := x.c.TLSConnectionState()
	x.r.mu.Lock()
	defer x.r.mu.Unlock()
	x.r.got = append(x.r.got, relayed{tls: encrypted, user: x.user, to: x.to, data: string(b)})
	return nil
}

func (r *tlsRelay) mails() []relayed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]relayed(nil), r.got...)
}

// relayMode is how a test relay takes connections.
type relayMode int

const (
	plainOnly relayMode = iota // no TLS offered at all
	starttls                   // STARTTLS offered
	implicit                   // TLS from the first byte (port 465 style)
)

func startTLSRelay(t *testing.T, mode relayMode, auth bool, cert tls.Certificate) *tlsRelay {
	t.Helper()
	r := &tlsRelay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &relaySession{r: r, c: c, auth: auth}, nil
	}))
	srv.Domain = "relay.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if mode != plainOnly {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if mode == implicit {
			_ = srv.Serve(tls.NewListener(l, srv.TLSConfig))
		} else {
			_ = srv.Serve(l)
		}
	}()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return r
}

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay.test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestRelayTLSModes delivers through real relays in each TLS mode: STARTTLS (the default)
// encrypts before AUTH and refuses a relay that does not offer it or whose certificate is not
// trusted; implicit TLS encrypts from the first byte; AUTH PLAIN takes the password from its
// file or its environment variable, and a wrong or missing one is refused; nothing is
// delivered by a refused attempt.
func TestRelayTLSModes(t *testing.T) {
	t.Parallel()
	cert, roots := selfSigned(t)
	trusted := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	untrusted := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("s3cret-relay\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "FRONTDESK_RELAY_PASSWORD" {
			return "s3cret-relay"
		}
		return ""
	}
	msg := []byte("Subject: transcript\r\n\r\nhello\r\n")
	for _, tc := range []struct {
		name    string
		mode    relayMode
		auth    bool
		relay   fdmail.Relay
		tlsConf *tls.Config
		wantErr string // "" delivered
		wantTLS bool
	}{
		{"starttls", starttls, false, fdmail.Relay{TLS: fdmail.TLSStartTLS}, trusted, "", true},
		{"starttls is the default", starttls, false, fdmail.Relay{}, trusted, "", true},
		{"starttls with auth from a file", starttls, true, fdmail.Relay{TLS: fdmail.TLSStartTLS, Username: "relay", PasswordFile: pwFile}, trusted, "", true},
		{"implicit tls with auth from the environment", implicit, true, fdmail.Relay{TLS: fdmail.TLSImplicit, Username: "relay", PasswordEnv: "FRONTDESK_RELAY_PASSWORD"}, trusted, "", true},
		{"none", plainOnly, false, fdmail.Relay{TLS: fdmail.TLSNone}, nil, "", false},
		{"starttls refused by a relay without it", plainOnly, false, fdmail.Relay{TLS: fdmail.TLSStartTLS}, trusted, "starttls", false},
		{"starttls with an untrusted certificate", starttls, false, fdmail.Relay{TLS: fdmail.TLSStartTLS}, untrusted, "certificate", false},
		{"implicit tls with an untrusted certificate", implicit, false, fdmail.Relay{TLS: fdmail.TLSImplicit}, untrusted, "certificate", false},
		{"wrong password", starttls, true, fdmail.Relay{TLS: fdmail.TLSStartTLS, Username: "relay", PasswordEnv: "FRONTDESK_OTHER"}, trusted, "auth", false},
		{"auth required, none given", starttls, true, fdmail.Relay{TLS: fdmail.TLSStartTLS}, trusted, "mail from", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startTLSRelay(t, tc.mode, tc.auth, cert)
			relay := tc.relay
			relay.Addr, relay.Timeout = srv.addr, 10*time.Second
			if err := relay.Validate(); err != nil {
				t.Fatal(err)
			}
			err := relay.Deliver(context.Background(), tc.tlsConf, getenv, "desk@shop.example", "ann@example.com", msg)
			got := srv.mails()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one about %q", err, tc.wantErr)
				}
				if len(got) != 0 {
					t.Fatalf("a refused attempt delivered %d mails", len(got))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].tls != tc.wantTLS || got[0].to != "ann@example.com" || !strings.Contains(got[0].data, "hello") ||
				(tc.auth && got[0].user != "relay") {
				t.Fatalf("relay got %+v, want one mail to ann@example.com, tls %v", got, tc.wantTLS)
			}
		})
	}
	if err := (fdmail.Relay{Addr: "127.0.0.1:25", TLS: "ssl"}).Validate(); err == nil {
		t.Fatal("an unknown TLS mode passed validation")
	}
}
