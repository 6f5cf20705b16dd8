package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// cacheEnv is an Authenticator with what a cached token depends on in the test's hands: the
// clock, the gateway's key ring, the tenants' settings and a customer issuer's key set served
// over HTTP.
type cacheEnv struct {
	a       *Authenticator
	now     atomic.Int64 // unix nanoseconds
	ring    Ring
	keys    []byte // the ring's key set JSON
	mu      sync.Mutex
	tenants map[string]*fd.Tenant
	issKeys []*ecdsa.PrivateKey // kid "a", "b", ... in order
	jwks    atomic.Value        // string served at /jwks
	url     string
}

func newCacheEnv(t *testing.T, entries int) *cacheEnv {
	t.Helper()
	e := &cacheEnv{tenants: map[string]*fd.Tenant{}}
	e.now.Store(time.Now().UnixNano())
	var err error
	if e.keys, err = token.GenerateKeys(nil); err != nil {
		t.Fatal(err)
	}
	k, err := token.ParseKeys(e.keys)
	if err != nil {
		t.Fatal(err)
	}
	e.ring.Store(k)
	for range 2 {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		e.issKeys = append(e.issKeys, key)
	}
	e.jwks.Store(jwksOf(t, &e.issKeys[0].PublicKey))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, e.jwks.Load().(string))
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/jwks"
	for _, id := range []string{"shop", "other"} {
		e.tenants[id] = &fd.Tenant{Id: id}
	}
	e.tenants["shop"].CustomerIssuers = []*fd.CustomerIssuer{{Issuer: "https://shop.example", Audience: "frontdesk", JwksUrl: e.url}}
	e.a = New(Config{Issuer: "frontdesk", Keys: e.ring.Keys, HTTPClient: srv.Client(), CacheEntries: entries,
		Now: func() time.Time { return time.Unix(0, e.now.Load()) }}, zaptest.NewLogger(t))
	return e
}

func (e *cacheEnv) clock() time.Time        { return time.Unix(0, e.now.Load()) }
func (e *cacheEnv) advance(d time.Duration) { e.now.Add(int64(d)) }

func (e *cacheEnv) tenantOf(id string) (*fd.Tenant, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tenants[id]
	return t, ok
}

// setTenant replaces a tenant's settings the way the tenants bucket does: a new value.
func (e *cacheEnv) setTenant(id string, change func(*fd.Tenant)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t := proto.Clone(e.tenants[id]).(*fd.Tenant)
	change(t)
	e.tenants[id] = t
}

func (e *cacheEnv) visitor(t *testing.T, tenant string, ttl time.Duration) string {
	t.Helper()
	tok, err := e.a.Sign(token.Claims{Subject: "v_1", Tenant: tenant, Role: frames.RoleCustomer, Kind: token.KindVisitor}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// customer is a token of the shop's issuer signed with its key number i (kid "a" + i).
func (e *cacheEnv) customer(t *testing.T, i int, ttl time.Duration) string {
	t.Helper()
	now := e.clock()
	tk := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": "https://shop.example", "aud": "frontdesk",
		"sub": "alice", "iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	tk.Header["kid"] = string(rune('a' + i))
	s, err := tk.SignedString(e.issKeys[i])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifiedCache: a token verified once is accepted again without its signature only while
// everything that made it good still holds; every row changes one thing between the two
// requests and gets the refusal a fresh verification gives, never the cached acceptance.
func TestVerifiedCache(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tok    func(*testing.T, *cacheEnv) string
		hint   string                      // the first request's tenant
		change func(*testing.T, *cacheEnv) // between the two requests
		again  string                      // the second request's tenant
		reason string                      // "": accepted from the cache
		status int                         // when refused
	}{
		{name: "visitor token again: a hit",
			tok: func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) }, hint: "shop", again: "shop"},
		{name: "customer token again: a hit",
			tok: func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) }, hint: "shop", again: "shop"},
		{name: "a token naming its tenant, asked without one: a hit",
			tok: func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) }, hint: "", again: ""},
		{name: "expired since it was cached",
			tok:    func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Minute) },
			hint:   "shop",
			change: func(_ *testing.T, e *cacheEnv) { e.advance(2 * time.Minute) },
			again:  "shop", reason: "expired", status: 401},
		{name: "customer token expired since it was cached",
			tok:    func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Minute) },
			hint:   "shop",
			change: func(_ *testing.T, e *cacheEnv) { e.advance(2 * time.Minute) },
			again:  "shop", reason: "expired", status: 401},
		{name: "gateway key rotated out of the key set",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) },
			hint: "shop",
			change: func(t *testing.T, e *cacheEnv) {
				fresh, err := token.GenerateKeys(nil)
				if err != nil {
					t.Fatal(err)
				}
				k, err := token.ParseKeys(fresh)
				if err != nil {
					t.Fatal(err)
				}
				e.ring.Store(k)
			},
			again: "shop", reason: "bad_signature", status: 401},
		{name: "gateway key set rotated with the old key kept: still a hit",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) },
			hint: "shop",
			change: func(t *testing.T, e *cacheEnv) {
				rotated, err := token.GenerateKeys(e.keys)
				if err != nil {
					t.Fatal(err)
				}
				k, err := token.ParseKeys(rotated)
				if err != nil {
					t.Fatal(err)
				}
				e.ring.Store(k)
			},
			again: "shop"},
		{name: "issuer key removed from its key set (seen at the next refresh)",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint: "shop",
			change: func(t *testing.T, e *cacheEnv) {
				e.jwks.Store(jwksKid(t, "b", &e.issKeys[1].PublicKey))
				e.advance(RefreshEvery + time.Second)
			},
			again: "shop", reason: "bad_signature", status: 401},
		{name: "issuer removed from the tenant",
			tok:    func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint:   "shop",
			change: func(_ *testing.T, e *cacheEnv) { e.setTenant("shop", func(t *fd.Tenant) { t.CustomerIssuers = nil }) },
			again:  "shop", reason: "unknown_issuer", status: 401},
		{name: "issuer's audience changed",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint: "shop",
			change: func(_ *testing.T, e *cacheEnv) {
				e.setTenant("shop", func(t *fd.Tenant) { t.CustomerIssuers[0].Audience = "frontdesk-v2" })
			},
			again: "shop", reason: "bad_audience", status: 401},
		{name: "issuer's lifetime cap lowered under the token's",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint: "shop",
			change: func(_ *testing.T, e *cacheEnv) {
				e.setTenant("shop", func(t *fd.Tenant) { t.CustomerIssuers[0].MaxLifetimeS = 60 })
			},
			again: "shop", reason: "lifetime", status: 401},
		{name: "another tenant's setting changed: still a hit",
			tok:    func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint:   "shop",
			change: func(_ *testing.T, e *cacheEnv) { e.setTenant("other", func(t *fd.Tenant) { t.Name = "Other Inc" }) },
			again:  "shop"},
		{name: "tenant removed",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) },
			hint: "shop",
			change: func(_ *testing.T, e *cacheEnv) {
				e.mu.Lock()
				delete(e.tenants, "shop")
				e.mu.Unlock()
			},
			again: "shop", reason: "unknown_tenant", status: 403},
		{name: "visitor token of tenant A presented for tenant B",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) },
			hint: "shop", again: "other", reason: "tenant_mismatch", status: 401},
		{name: "visitor token of tenant A, cached without a hint, presented for tenant B",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.visitor(t, "shop", time.Hour) },
			hint: "", again: "other", reason: "tenant_mismatch", status: 401},
		{name: "customer token of tenant A's issuer presented for tenant B",
			tok:  func(t *testing.T, e *cacheEnv) string { return e.customer(t, 0, time.Hour) },
			hint: "shop", again: "other", reason: "unknown_issuer", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newCacheEnv(t, 0)
			ctx := context.Background()
			tok := tc.tok(t, e)
			first, ft, err := e.a.Verify(ctx, tok, tc.hint, e.tenantOf)
			if err != nil {
				t.Fatalf("first verification: %v", err)
			}
			if tc.change != nil {
				tc.change(t, e)
			}
			before := e.a.CacheStats()
			c, ct, err := e.a.Verify(ctx, tok, tc.again, e.tenantOf)
			hit := e.a.CacheStats().Hits - before.Hits
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if hit != 1 {
					t.Fatalf("%d cache hits, want 1", hit)
				}
				if c.Subject != first.Subject || c.Tenant != first.Tenant || c.Role != first.Role || ct.GetId() != ft.GetId() {
					t.Fatalf("cached claims %+v for %q, first %+v for %q", c, ct.GetId(), first, ft.GetId())
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Reason != tc.reason || ae.Status != tc.status {
				t.Fatalf("got %v (claims %+v), want %d %s", err, c, tc.status, tc.reason)
			}
			if hit != 0 {
				t.Fatal("refused, yet counted as a cache hit")
			}
			// The refusal also dropped the entry: asked again, it is refused again.
			if _, _, err := e.a.Verify(ctx, tok, tc.again, e.tenantOf); !errors.As(err, &ae) || ae.Reason != tc.reason {
				t.Fatalf("asked again: %v", err)
			}
		})
	}
}

// TestVerifiedCacheBounded: the cache never holds more than its bound, keeps verifying what it
// had to let go of, and does not keep tokens of the shared secrets.
func TestVerifiedCacheBounded(t *testing.T) {
	t.Parallel()
	e := newCacheEnv(t, 16)
	ctx := context.Background()
	var toks []string
	for i := range 100 {
		tok, err := e.a.Sign(token.Claims{Subject: fmt.Sprintf("v_%d", i), Tenant: "shop", Role: frames.RoleCustomer,
			Kind: token.KindVisitor}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tok)
		if _, _, err := e.a.Verify(ctx, tok, "shop", e.tenantOf); err != nil {
			t.Fatal(err)
		}
		if n := e.a.cache.len(); n > 16 {
			t.Fatalf("%d entries, bound 16", n)
		}
	}
	// The newest entry survives the eviction its own insertion caused.
	if _, _, err := e.a.Verify(ctx, toks[99], "shop", e.tenantOf); err != nil {
		t.Fatal(err)
	}
	if s := e.a.CacheStats(); s.Hits != 1 || s.Misses != 100 {
		t.Fatalf("stats %+v: want the newest token a hit and every first sight a miss", s)
	}
	for _, tok := range toks {
		if _, _, err := e.a.Verify(ctx, tok, "shop", e.tenantOf); err != nil {
			t.Fatalf("evicted token refused: %v", err)
		}
	}

	dev := New(Config{Issuer: "frontdesk", Keys: e.ring.Keys, DevSecret: []byte("a-development-secret-of-32-bytes!"),
		DevTenants: []string{"shop"}}, zaptest.NewLogger(t))
	tok, err := token.Sign([]byte("a-development-secret-of-32-bytes!"), token.Claims{Subject: "u1", Tenant: "shop", Role: frames.RoleAgent}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, _, err := dev.Verify(ctx, tok, "shop", e.tenantOf); err != nil {
			t.Fatal(err)
		}
	}
	if s := dev.CacheStats(); s.Hits != 0 || dev.cache.len() != 0 {
		t.Fatalf("a development token was cached: %+v", s)
	}
}

// jwksKid is a key set of one public key under kid.
func jwksKid(t *testing.T, kid string, key any) string {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	return string(b)
}
