// Package oidcop runs a real OpenID Connect provider in tests: the provider of
// github.com/zitadel/oidc (discovery, JWKS, authorization code flow with PKCE, ID token
// signing, userinfo) with its example in-memory storage and login page, plus what our tests
// need on top: users with group and agent claims, registered clients, and signing key rotation.
package oidcop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a person who can sign in at the provider (username and password on its login page).
type User struct {
	ID       string
	Username string
	Password string
	Name     string
	Email    string
	// Verified marks the email verified.
	Verified bool
	// Claims are extra userinfo claims (groups, skills, max_chats, ...).
	Claims map[string]any
}

// Provider is a running provider.
type Provider struct {
	// Issuer is the provider's issuer URL (no trailing slash).
	Issuer string

	srv     *httptest.Server
	store   *store
	clients map[string]*storage.Client
}

// Start runs a provider until the test ends. Register clients with AddClient before the first
// sign-in.
func Start(t testing.TB, users ...User) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	us := userStore{users: map[string]*User{}}
	for i := range users {
		u := users[i]
		us.users[u.ID] = &u
	}
	clients := map[string]*storage.Client{}
	st := &store{Storage: storage.NewStorageWithClients(us, clients), users: us}
	if err := st.Rotate(); err != nil {
		t.Fatal(err)
	}
	// The issuer must carry a trailing slash for exampleop's routes; discovery works either way.
	router := exampleop.SetupServer(issuer+"/", st, nil, false)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: router}}
	srv.Start()
	t.Cleanup(srv.Close)
	return &Provider{Issuer: issuer + "/", srv: srv, store: st, clients: clients}
}

// AddClient registers a confidential web client (HTTP Basic or form-post secret; PKCE too).
func (p *Provider) AddClient(id, secret string, redirectURIs ...string) {
	p.clients[id] = storage.WebClient(id, secret, redirectURIs...)
}

// Rotate makes a new signing key; ID tokens are signed with it from now on, and the old keys
// stay in the JWKS so that tokens already issued still verify.
func (p *Provider) Rotate() error { return p.store.Rotate() }

// SigningKID is the kid of the current signing key.
func (p *Provider) SigningKID() string {
	p.store.mu.Lock()
	defer p.store.mu.Unlock()
	return p.store.keys[len(p.store.keys)-1].id
}

type rsaKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rsaKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rsaKey) Key() any                                    { return k.key }
func (k *rsaKey) ID() string                                  { return k.id }

type pubKey struct{ *rsaKey }

func (k pubKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k pubKey) Use() string                        { return "sig" }
func (k pubKey) Key() any                           { return &k.key.PublicKey }

// store is the example storage with rotating keys and extra userinfo claims.
type store struct {
	*storage.Storage
	users userStore

	mu   sync.Mutex
	keys []*rsaKey
}

func (s *store) Rotate() error {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, &rsaKey{id: fmt.Sprintf("k%d", len(s.keys)+1), key: k})
	return nil
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, pubKey{k})
	}
	return out, nil
}

func (s *store) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, clientID string, scopes []string) error {
	if err := s.Storage.SetUserinfoFromScopes(ctx, ui, userID, clientID, scopes); err != nil {
		return err
	}
	s.extra(ui, userID)
	return nil
}

func (s *store) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.extra(ui, ui.Subject)
	return nil
}

func (s *store) extra(ui *oidc.UserInfo, userID string) {
	if u := s.users.users[userID]; u != nil {
		for k, v := range u.Claims {
			ui.AppendClaims(k, v)
		}
	}
}

type userStore struct{ users map[string]*User }

func (u userStore) user(x *User) *storage.User {
	if x == nil {
		return nil
	}
	return &storage.User{ID: x.ID, Username: x.Username, Password: x.Password, FirstName: x.Name,
		Email: x.Email, EmailVerified: x.Verified}
}

func (u userStore) GetUserByID(id string) *storage.User { return u.user(u.users[id]) }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u.users {
		if x.Username == name {
			return u.user(x)
		}
	}
	return nil
}

func (u userStore) ExampleClientID() string { return "service" }
