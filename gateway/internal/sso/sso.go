// Package sso signs a tenant's agents and supervisors in to the console with OpenID Connect
// (authorization code flow with PKCE, state and nonce checked), and keeps their console
// session: an HttpOnly cookie holding a session token the gateway signed, exchanged for
// short-lived console tokens that the page keeps in memory only.
//
// Routes:
//
//	GET  /v1/sso/{tenant}        whether the tenant has SSO, and the button's label
//	GET  /v1/sso/{tenant}/login  redirect to the provider
//	GET  /v1/sso/callback        the provider's redirect back: session cookie, then /agent
//	POST /v1/session             a fresh console token from the session cookie
//	POST /v1/session/logout      end the session
package sso

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/auth"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

const (
	// SessionCookie holds the console session token.
	SessionCookie = "fd_console"
	// StateCookie holds a sign-in in progress.
	StateCookie = "fd_sso"
	// SecretEnvPrefix is the prefix every staff_sso.client_secret_env must have.
	SecretEnvPrefix = "FRONTDESK_SSO_"
	// stateTTL bounds how long a person may take at the provider.
	stateTTL = 10 * time.Minute
	// providerTTL is how long a provider's discovery document is reused.
	providerTTL = 10 * time.Minute
)

// Config configures the handlers.
type Config struct {
	// Auth signs and verifies the gateway's tokens.
	Auth *auth.Authenticator
	// Tenant looks a tenant up.
	Tenant func(string) (*fd.Tenant, bool)
	// PublicURL is the gateway's external base URL; empty: the request's scheme and host.
	PublicURL string
	// SecretsDir holds client secret files.
	SecretsDir string
	// Getenv reads client secrets named by client_secret_env.
	Getenv func(string) string
	// SessionTTL is a sign-in's lifetime; TokenTTL a console token's.
	SessionTTL, TokenTTL time.Duration
	// HTTPClient talks to providers.
	HTTPClient *http.Client
}

// Handler serves the sign-in routes.
type Handler struct {
	cfg Config
	log *zap.Logger

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p   *oidc.Provider
	at  time.Time
	err error
}

// New returns the handler.
func New(cfg Config, log *zap.Logger) *Handler {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	return &Handler{cfg: cfg, log: log, providers: map[string]cachedProvider{}}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/sso/callback", h.callback)
	mux.HandleFunc("GET /v1/sso/{tenant}", h.info)
	mux.HandleFunc("GET /v1/sso/{tenant}/login", h.login)
	mux.HandleFunc("POST /v1/session", h.session)
	mux.HandleFunc("POST /v1/session/logout", h.logout)
}

type infoReply struct {
	Enabled bool   `json:"enabled"`
	Name    string `json:"name,omitempty"`
	Login   string `json:"login,omitempty"`
}

func (h *Handler) info(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("tenant")
	t, ok := h.cfg.Tenant(id)
	reply := infoReply{}
	if ok && t.GetStaffSso().GetIssuer() != "" {
		reply = infoReply{Enabled: true, Name: displayName(t.GetStaffSso()), Login: "/v1/sso/" + id + "/login"}
	}
	writeJSON(w, http.StatusOK, reply)
}

func displayName(s *fd.StaffSSO) string {
	if s.GetDisplayName() != "" {
		return s.GetDisplayName()
	}
	if u, err := url.Parse(s.GetIssuer()); err == nil && u.Host != "" {
		return u.Host
	}
	return s.GetIssuer()
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("tenant")
	t, ok := h.cfg.Tenant(id)
	if !ok || !subjects.ValidToken(id) || t.GetStaffSso().GetIssuer() == "" {
		http.Error(w, "this tenant has no single sign-on", http.StatusNotFound)
		return
	}
	oc, _, err := h.oauth(r, t.GetStaffSso())
	if err != nil {
		h.log.Warn("sso login", zap.String("tenant", id), zap.Error(err))
		http.Error(w, "the sign-in provider is unavailable", http.StatusBadGateway)
		return
	}
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	cookie, err := h.cfg.Auth.Sign(token.Claims{Subject: "sso", Tenant: id, Kind: token.KindSSOState,
		State: state, Nonce: nonce, Verifier: verifier}, stateTTL)
	if err != nil {
		http.Error(w, "sign-in failed", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Value: cookie, Path: "/v1/sso", MaxAge: int(stateTTL.Seconds()),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, oc.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string, err error) {
		h.log.Info("sso sign-in refused", zap.String("why", msg), zap.Error(err))
		http.Error(w, "sign-in failed: "+msg, status)
	}
	ck, err := r.Cookie(StateCookie)
	if err != nil {
		fail(http.StatusBadRequest, "no sign-in in progress (cookies blocked, or it took too long)", err)
		return
	}
	// The state cookie is for one use.
	http.SetCookie(w, &http.Cookie{Name: StateCookie, Path: "/v1/sso", MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteLaxMode})
	st, err := h.cfg.Auth.VerifySession(ck.Value, token.KindSSOState, stateTTL+time.Minute)
	if err != nil {
		fail(http.StatusBadRequest, "sign-in state is not valid", err)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail(http.StatusUnauthorized, "the provider said "+e, nil)
		return
	}
	if q.Get("state") == "" || q.Get("state") != st.State {
		fail(http.StatusBadRequest, "state does not match", nil)
		return
	}
	t, ok := h.cfg.Tenant(st.Tenant)
	if !ok || t.GetStaffSso().GetIssuer() == "" {
		fail(http.StatusNotFound, "this tenant has no single sign-on", nil)
		return
	}
	cfg := t.GetStaffSso()
	oc, p, err := h.oauth(r, cfg)
	if err != nil {
		fail(http.StatusBadGateway, "the sign-in provider is unavailable", err)
		return
	}
	ctx := oidc.ClientContext(r.Context(), h.cfg.HTTPClient)
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		fail(http.StatusUnauthorized, "the code was refused", err)
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		fail(http.StatusUnauthorized, "the provider sent no ID token", nil)
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: cfg.GetClientId()}).Verify(ctx, rawID)
	if err != nil {
		fail(http.StatusUnauthorized, "the ID token is not valid", err)
		return
	}
	if idt.Nonce != st.Nonce {
		fail(http.StatusUnauthorized, "nonce does not match", nil)
		return
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		fail(http.StatusUnauthorized, "the ID token's claims do not parse", err)
		return
	}
	// Providers put profile, email and group claims in userinfo rather than the ID token when an
	// access token is issued; the ID token's subject must match.
	if p.UserInfoEndpoint() != "" {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			fail(http.StatusBadGateway, "the provider's userinfo failed", err)
			return
		}
		if ui.Subject != idt.Subject {
			fail(http.StatusUnauthorized, "userinfo is about someone else", nil)
			return
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err == nil {
			for k, v := range extra {
				if _, ok := claims[k]; !ok || k == "email_verified" || k == "email" {
					claims[k] = v
				}
			}
		}
	}
	staff, err := MapClaims(cfg, claims)
	if err != nil {
		status := http.StatusForbidden
		fail(status, err.Error(), nil)
		return
	}
	session, err := h.cfg.Auth.Sign(token.Claims{Subject: auth.StaffID(idt.Issuer, staff.Subject), Tenant: st.Tenant,
		Role: staff.Role, Name: staff.Name, Email: staff.Email, Skills: staff.Skills, MaxChats: staff.MaxChats,
		Kind: token.KindStaffSession}, h.cfg.SessionTTL)
	if err != nil {
		fail(http.StatusInternalServerError, "could not sign the session", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: session, Path: "/v1/session", MaxAge: int(h.cfg.SessionTTL.Seconds()),
		HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	h.log.Info("staff signed in", zap.String("tenant", st.Tenant), zap.String("user", auth.StaffID(idt.Issuer, staff.Subject)),
		zap.String("role", staff.Role))
	http.Redirect(w, r, "/agent?tenant="+url.QueryEscape(st.Tenant), http.StatusSeeOther)
}

type sessionReply struct {
	Token     string `json:"token"`
	ExpiresAt int64  `json:"expires_at"`
	Tenant    string `json:"tenant"`
	User      string `json:"user"`
}

func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !h.sameOrigin(r) {
		http.Error(w, "cross-origin request", http.StatusForbidden)
		return
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	c, err := h.cfg.Auth.VerifySession(ck.Value, token.KindStaffSession, auth.MaxSessionLifetime)
	if err != nil {
		http.Error(w, "session ended: sign in again", http.StatusUnauthorized)
		return
	}
	if _, ok := h.cfg.Tenant(c.Tenant); !ok {
		http.Error(w, "tenant is gone", http.StatusForbidden)
		return
	}
	// A console token never outlives its session.
	ttl := min(h.cfg.TokenTTL, time.Until(c.ExpiresAt.Time))
	tok, err := h.cfg.Auth.Sign(token.Claims{Subject: c.Subject, Tenant: c.Tenant, Role: c.Role, Name: c.Name, Email: c.Email,
		Skills: c.Skills, MaxChats: c.MaxChats, Kind: token.KindStaff}, ttl)
	if err != nil {
		http.Error(w, "could not sign a token", http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, sessionReply{Token: tok, ExpiresAt: time.Now().Add(ttl).Unix(), Tenant: c.Tenant, User: c.Subject})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if !h.sameOrigin(r) {
		http.Error(w, "cross-origin request", http.StatusForbidden)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Path: "/v1/session", MaxAge: -1, HttpOnly: true, Secure: h.secure(r), SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}

// oauth returns the OAuth2 configuration and the provider for cfg.
func (h *Handler) oauth(r *http.Request, cfg *fd.StaffSSO) (*oauth2.Config, *oidc.Provider, error) {
	p, err := h.provider(r.Context(), cfg.GetIssuer())
	if err != nil {
		return nil, nil, err
	}
	secret, err := h.secret(cfg)
	if err != nil {
		return nil, nil, err
	}
	scopes := []string{oidc.ScopeOpenID}
	extra := cfg.GetScopes()
	if len(extra) == 0 {
		extra = []string{"email", "profile"}
	}
	for _, s := range extra {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	return &oauth2.Config{ClientID: cfg.GetClientId(), ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: h.base(r) + "/v1/sso/callback", Scopes: scopes}, p, nil
}

func (h *Handler) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	h.mu.Lock()
	c, ok := h.providers[issuer]
	h.mu.Unlock()
	if ok && time.Since(c.at) < providerTTL && c.err == nil {
		return c.p, nil
	}
	dctx, cancel := context.WithTimeout(oidc.ClientContext(context.WithoutCancel(ctx), h.cfg.HTTPClient), 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, issuer)
	h.mu.Lock()
	if len(h.providers) > 1000 {
		clear(h.providers)
	}
	h.providers[issuer] = cachedProvider{p: p, at: time.Now(), err: err}
	h.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", issuer, err)
	}
	return p, nil
}

// secret reads the tenant's client secret from where its settings point, which may only be an
// environment variable with SecretEnvPrefix or a file directly in the secrets directory: a
// tenant's settings must not be able to send another of the gateway's secrets to a provider.
func (h *Handler) secret(cfg *fd.StaffSSO) (string, error) {
	switch {
	case cfg.GetClientSecretEnv() != "":
		name := cfg.GetClientSecretEnv()
		if !strings.HasPrefix(name, SecretEnvPrefix) {
			return "", fmt.Errorf("client_secret_env %q must start with %s", name, SecretEnvPrefix)
		}
		v := h.cfg.Getenv(name)
		if v == "" {
			return "", fmt.Errorf("client_secret_env %q is not set", name)
		}
		return v, nil
	case cfg.GetClientSecretFile() != "":
		name := cfg.GetClientSecretFile()
		if h.cfg.SecretsDir == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return "", fmt.Errorf("client_secret_file %q: a file name in gateway.sso_secrets_dir", name)
		}
		b, err := os.ReadFile(filepath.Join(h.cfg.SecretsDir, name))
		if err != nil {
			return "", fmt.Errorf("client secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	return "", nil // a public client: PKCE alone
}

func (h *Handler) base(r *http.Request) string {
	if h.cfg.PublicURL != "" {
		return strings.TrimRight(h.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(h.cfg.PublicURL, "https://")
}

// sameOrigin refuses a cross-site POST (a browser always sends Origin on one).
func (h *Handler) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || o == h.base(r)
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
