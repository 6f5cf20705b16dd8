package app_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// issuer is a tenant's backend: it signs its customers' tokens and serves its JWKS over HTTP.
type issuer struct {
	t       testing.TB
	iss     string
	srv     *httptest.Server
	fetches atomic.Int64

	mu   sync.Mutex
	keys []issuerKey // published; the last one signs
}

type issuerKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
}

func newIssuer(t testing.TB, iss string) *issuer {
	t.Helper()
	is := &issuer{t: t, iss: iss}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(is.jwks())
	}))
	t.Cleanup(is.srv.Close)
	is.rotate("rs1", true)
	return is
}

// rotate publishes a new key that signs from now on; keep says whether older keys stay published.
func (is *issuer) rotate(kid string, keep bool) {
	is.t.Helper()
	var k issuerKey
	if strings.HasPrefix(kid, "es") {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			is.t.Fatal(err)
		}
		k = issuerKey{kid: kid, method: jwt.SigningMethodES256, priv: priv}
	} else {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			is.t.Fatal(err)
		}
		k = issuerKey{kid: kid, method: jwt.SigningMethodRS256, priv: priv}
	}
	is.mu.Lock()
	defer is.mu.Unlock()
	if !keep {
		is.keys = nil
	}
	is.keys = append(is.keys, k)
}

func (is *issuer) jwks() []byte {
	is.mu.Lock()
	defer is.mu.Unlock()
	out := jwkset.JWKSMarshal{}
	for _, k := range is.keys {
		j, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: k.kid, USE: jwkset.UseSig}})
		if err != nil {
			panic(err)
		}
		out.Keys = append(out.Keys, j.Marshal())
	}
	b, _ := json.Marshal(out)
	return b
}

func (is *issuer) current() issuerKey {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.keys[len(is.keys)-1]
}

// customerClaims are what a tenant backend typically signs.
func (is *issuer) customerClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"iss": is.iss, "aud": "frontdesk", "sub": sub, "name": "Alice Liddell",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

func (is *issuer) sign(c jwt.MapClaims, mod ...func(*jwt.Token)) string {
	is.t.Helper()
	k := is.current()
	tk := jwt.NewWithClaims(k.method, c)
	tk.Header["kid"] = k.kid
	for _, m := range mod {
		m(tk)
	}
	s, err := tk.SignedString(k.priv)
	if err != nil {
		is.t.Fatal(err)
	}
	return s
}

// identityEnv: tenant "shop" trusts issuer shopIss (JWKS URL), tenant "other" trusts otherIss
// (inline JWKS); neither accepts the development secret (only tenant "devonly" does).
type identityEnv struct {
	*apptest.Env
	g        *apptest.Gateway
	shopIss  *issuer
	otherIss *issuer
}

func newIdentityEnv(t testing.TB, mod ...func(*app.Config)) *identityEnv {
	t.Helper()
	e := apptest.NewEnv(t)
	shop := newIssuer(t, "https://shop.example")
	other := newIssuer(t, "https://other.example")
	seedTenants(t, e, []*fd.Tenant{
		{Id: "shop", Name: "Shop", CustomerIssuers: []*fd.CustomerIssuer{{Issuer: shop.iss, Audience: "frontdesk", JwksUrl: shop.srv.URL, MaxLifetimeS: 3600}}},
		{Id: "other", Name: "Other", AnonymousVisitors: true, CustomerIssuers: []*fd.CustomerIssuer{{Issuer: other.iss, Audience: "frontdesk", Jwks: string(other.jwks())}}},
		{Id: "devonly", Name: "Dev"},
	})
	mods := append([]func(*app.Config){func(c *app.Config) { c.Gateway.DevTenants = []string{"devonly"} }}, mod...)
	return &identityEnv{Env: e, g: e.Gateway(mods...), shopIss: shop, otherIss: other}
}

func seedTenants(t testing.TB, e *apptest.Env, ts []*fd.Tenant) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	kv, err := e.JS.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, ts); err != nil {
		t.Fatal(err)
	}
}

// dialFor opens a socket for tenant (the widget's ?tenant=) and returns the HTTP status and the
// refusal's text.
func dialFor(g *apptest.Gateway, t *testing.T, tok, tenant string) (int, string) {
	t.Helper()
	h := http.Header{}
	if tenant != "" {
		h.Set("X-Frontdesk-Tenant", tenant)
	}
	c, resp, _ := g.DialRaw(t, tok, apptest.DialOpts{Header: h})
	if c != nil {
		_ = c.CloseNow()
	}
	if resp == nil {
		t.Fatal("no response")
	}
	var body []byte
	if resp.Body != nil { // none after a 101
		body, _ = io.ReadAll(resp.Body)
	}
	return resp.StatusCode, string(body)
}

func visitorToken(g *apptest.Gateway, t *testing.T, tenant, previous string) (string, string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"tenant": tenant, "previous": previous})
	resp, err := http.Post(g.URL+"/v1/visitors", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("visitor token: status %d, %v", resp.StatusCode, err)
	}
	return out["token"], out["user"]
}

// TestTokenRefusals is the table of tokens that must never open a session: each row is refused
// with its status and reason, and nothing reaches the bus.
func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	ie := newIdentityEnv(t)
	shop, other := ie.shopIss, ie.otherIss
	now := time.Now()
	with := func(c jwt.MapClaims, kv ...any) jwt.MapClaims {
		out := jwt.MapClaims{}
		for k, v := range c {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(out, kv[i].(string))
			} else {
				out[kv[i].(string)] = kv[i+1]
			}
		}
		return out
	}
	base := shop.customerClaims("alice")
	// Algorithm confusion: an HS256 token whose "secret" is the issuer's public key, as a
	// verifier that handed the JWKS key to any algorithm would accept.
	pubDER, _ := x509.MarshalPKIXPublicKey(shop.current().priv.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	confused := jwt.NewWithClaims(jwt.SigningMethodHS256, base)
	confused.Header["kid"] = shop.current().kid
	confusedTok, _ := confused.SignedString(pubPEM)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, base)
	noneTok, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	acmeVisitor, _ := visitorToken(ie.g, t, "other", "")
	devForShop, _ := token.Sign(apptest.Secret, token.Claims{Subject: "u1", Tenant: "shop", Role: frames.RoleAgent}, time.Hour)
	keys, err := token.ParseKeys([]byte(apptest.TestKeys))
	if err != nil {
		t.Fatal(err)
	}
	staffSession, _ := keys.Sign(token.Claims{Subject: "s_x", Tenant: "other", Role: frames.RoleAgent, Kind: token.KindStaffSession,
		Issuer: "frontdesk", Audience: jwt.ClaimStrings{"frontdesk:other"}}, time.Hour)
	staffForOther, _ := keys.Sign(token.Claims{Subject: "s_x", Tenant: "other", Role: frames.RoleAgent, Kind: token.KindStaff,
		Issuer: "frontdesk", Audience: jwt.ClaimStrings{"frontdesk:other"}}, 10*time.Minute)
	tests := []struct {
		name   string
		tok    string
		tenant string // the request's tenant
		status int
		reason string
	}{
		{"tenant A's issuer key signing for tenant B", shop.sign(base), "other", 401, "unknown_issuer"},
		{"tenant A's issuer key, tenant B in the token", shop.sign(with(base, "tenant", "other")), "", 401, "unknown_issuer"},
		{"tenant B's issuer name signed with tenant A's key", shop.sign(with(base, "iss", other.iss)), "other", 401, "bad_signature"},
		{"customer issuer minting role agent", shop.sign(with(base, "role", "agent")), "shop", 401, "bad_role"},
		{"customer issuer minting role supervisor", shop.sign(with(base, "role", "supervisor")), "shop", 401, "bad_role"},
		{"customer token for another tenant than asked", shop.sign(with(base, "tenant", "other")), "shop", 401, "tenant_mismatch"},
		{"unknown kid", shop.sign(base, func(tk *jwt.Token) { tk.Header["kid"] = "nosuch" }), "shop", 401, "bad_signature"},
		{"alg none", noneTok, "shop", 401, "bad_algorithm"},
		{"HS256 with the RSA public key as secret", confusedTok, "shop", 401, "bad_algorithm"},
		{"expired", shop.sign(with(base, "iat", now.Add(-time.Hour).Unix(), "exp", now.Add(-time.Minute).Unix())), "shop", 401, "expired"},
		{"nbf in the future", shop.sign(with(base, "nbf", now.Add(time.Hour).Unix())), "shop", 401, "not_yet_valid"},
		{"iat in the future", shop.sign(with(base, "iat", now.Add(time.Hour).Unix(), "exp", now.Add(90*time.Minute).Unix())), "shop", 401, "issued_in_future"},
		{"no iat", shop.sign(with(base, "iat", nil)), "shop", 401, "bad_claims"},
		{"wrong aud", shop.sign(with(base, "aud", "someone-else")), "shop", 401, "bad_audience"},
		{"wrong iss", shop.sign(with(base, "iss", "https://evil.example")), "shop", 401, "unknown_issuer"},
		{"lifetime over the issuer's cap", shop.sign(with(base, "exp", now.Add(2*time.Hour).Unix())), "shop", 401, "lifetime"},
		{"no tenant anywhere", shop.sign(base), "", 401, "no_tenant"},
		{"unknown tenant", shop.sign(base), "nosuch", 403, "unknown_tenant"},
		{"gateway visitor token replayed against another tenant", acmeVisitor, "shop", 401, "tenant_mismatch"},
		{"gateway staff token replayed against another tenant", staffForOther, "shop", 401, "tenant_mismatch"},
		{"console session cookie used as a socket token", staffSession, "other", 401, "bad_kind"},
		{"development secret for a tenant that does not accept it", devForShop, "", 401, "unknown_issuer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := dialFor(ie.g, t, tc.tok, tc.tenant)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("status %d %q, want %d with %q", status, strings.TrimSpace(body), tc.status, tc.reason)
			}
		})
	}
	if n := ie.g.Sessions().Sessions(); n != 0 {
		t.Fatalf("%d sessions opened by refused tokens", n)
	}
	if msgs := ie.StreamMsgs(subjects.StreamMessages, ">"); len(msgs) != 0 {
		t.Fatalf("%d messages stored", len(msgs))
	}
}

// TestCustomerIssuerAccepted: a tenant's signed-in customers connect with their backend's
// tokens (JWKS URL with RS256 and ES256, or an inline key set), as the same user on every
// device, and always as customers of that tenant.
func TestCustomerIssuerAccepted(t *testing.T) {
	t.Parallel()
	ie := newIdentityEnv(t)
	c1, w1 := ie.g.Dial(t, ie.shopIss.sign(ie.shopIss.customerClaims("alice"))+"&tenant=shop")
	if w1.GetUser() != "c_alice" || w1.GetRole() != frames.RoleCustomer || w1.GetTenant() != "shop" {
		t.Fatalf("welcome = %v", w1)
	}
	ie.shopIss.rotate("es2", true)
	_, w2 := ie.g.Dial(t, ie.shopIss.sign(ie.shopIss.customerClaims("alice"))+"&tenant=shop")
	if w2.GetUser() != "c_alice" {
		t.Fatalf("second device is %q, want the same customer", w2.GetUser())
	}
	// A customer's own tenant claim and role "customer" are fine.
	_, w3 := ie.g.Dial(t, ie.otherIss.sign(jwt.MapClaims{"iss": ie.otherIss.iss, "aud": []string{"x", "frontdesk"}, "sub": "bob@example.com",
		"tenant": "other", "role": "customer", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}))
	if w3.GetTenant() != "other" || !strings.HasPrefix(w3.GetUser(), "c_") || w3.GetRole() != frames.RoleCustomer {
		t.Fatalf("welcome = %v", w3)
	}
	c1.Send(apptest.Text("m1", "", "hello"))
	c1.Await(frames.TypeAck)
}

// TestIssuerKeyRotation: the tenant's backend rotates its keys during a live run: connected
// customers stay, the new key's tokens verify at once (an unknown kid refreshes the key set),
// and a flood of made-up kids costs at most one fetch per refresh interval.
func TestIssuerKeyRotation(t *testing.T) {
	t.Parallel()
	ie := newIdentityEnv(t)
	is := ie.shopIss
	c1, _ := ie.g.Dial(t, is.sign(is.customerClaims("alice"))+"&tenant=shop")
	is.rotate("es2", false) // the old key is withdrawn entirely
	c2, w2 := ie.g.Dial(t, is.sign(is.customerClaims("bob"))+"&tenant=shop")
	if w2.GetUser() != "c_bob" {
		t.Fatalf("welcome = %v", w2)
	}
	before := is.fetches.Load()
	for i := range 30 {
		tok := is.sign(is.customerClaims("mallory"), func(tk *jwt.Token) { tk.Header["kid"] = "made-up-" + string(rune('a'+i)) })
		if status, _ := dialFor(ie.g, t, tok, "shop"); status != http.StatusUnauthorized {
			t.Fatalf("made-up kid: status %d", status)
		}
	}
	if n := is.fetches.Load() - before; n > 2 {
		t.Fatalf("30 unknown kids caused %d key set fetches", n)
	}
	// Both customers are still connected and served.
	c1.Send(apptest.Text("a1", "", "still here"))
	c1.Await(frames.TypeAck)
	c2.Send(apptest.Text("b1", "", "me too"))
	c2.Await(frames.TypeAck)
}

// TestGatewayKeyRotation: the gateway's own key file gets a new key first; new tokens are
// signed with it within one reload, and tokens of the old key (and their sockets) stay valid.
func TestGatewayKeyRotation(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(file, []byte(apptest.TestKeys), 0o600); err != nil {
		t.Fatal(err)
	}
	ie := newIdentityEnv(t, func(c *app.Config) {
		c.Gateway.SigningKeys = ""
		c.Gateway.SigningKeysFile = file
		c.Gateway.KeysReload = 50 * time.Millisecond
	})
	oldTok, oldUser := visitorToken(ie.g, t, "other", "")
	oldConn, _ := ie.g.Dial(t, oldTok)
	rotated, err := token.GenerateKeys([]byte(apptest.TestKeys))
	if err != nil {
		t.Fatal(err)
	}
	newKeys, _ := token.ParseKeys(rotated)
	if err := os.WriteFile(file, rotated, 0o600); err != nil {
		t.Fatal(err)
	}
	var newTok string
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		newTok, _ = visitorToken(ie.g, t, "other", "")
		tk, _, err := jwt.NewParser().ParseUnverified(newTok, &token.Claims{})
		if err != nil {
			return err
		}
		if kid := tk.Header["kid"]; kid != newKeys.SigningKID() {
			return errNotYet("signed with " + kid.(string))
		}
		return nil
	})
	if _, w := ie.g.Dial(t, newTok); w.GetTenant() != "other" {
		t.Fatalf("new key's token: %v", w)
	}
	_, w := ie.g.Dial(t, oldTok)
	if w.GetUser() != oldUser {
		t.Fatalf("old key's token: %v", w)
	}
	oldConn.Send(apptest.Text("o1", "", "still here"))
	oldConn.Await(frames.TypeAck)
}

// TestVisitorRenewalKeepsIdentity: a visitor whose token lapsed gets a new one for the same id
// by showing the old one; a token of another tenant or a forged one proves nothing.
func TestVisitorRenewalKeepsIdentity(t *testing.T) {
	t.Parallel()
	ie := newIdentityEnv(t)
	tok, user := visitorToken(ie.g, t, "other", "")
	keys, _ := token.ParseKeys([]byte(apptest.TestKeys))
	expired, _ := keys.Sign(token.Claims{Subject: user, Tenant: "other", Role: frames.RoleCustomer, Kind: token.KindVisitor,
		Issuer: "frontdesk", Audience: jwt.ClaimStrings{"frontdesk:other"}}, -time.Hour)
	forged, _ := token.GenerateKeys(nil)
	fk, _ := token.ParseKeys(forged)
	forgedTok, _ := fk.Sign(token.Claims{Subject: "v_victim", Tenant: "other", Role: frames.RoleCustomer, Kind: token.KindVisitor,
		Issuer: "frontdesk", Audience: jwt.ClaimStrings{"frontdesk:other"}}, time.Hour)
	tests := []struct {
		name     string
		previous string
		same     bool
	}{
		{"current token", tok, true},
		{"expired an hour ago", expired, true},
		{"signed by another key", forgedTok, false},
		{"garbage", "abc.def.ghi", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := visitorToken(ie.g, t, "other", tc.previous)
			if (got == user) != tc.same {
				t.Fatalf("renewed as %q (was %q), want same=%v", got, user, tc.same)
			}
			if got == "v_victim" {
				t.Fatal("a forged token chose the visitor id")
			}
		})
	}
}

type errNotYet string

func (e errNotYet) Error() string { return string(e) }

// TestLegacySharedSecret: with gateway.legacy_shared_secret set, the old tokens keep working for
// every tenant (with or without iat, as backends minted them), within the lifetime cap; without
// it they are refused.
func TestLegacySharedSecret(t *testing.T) {
	t.Parallel()
	legacy := "the-old-shared-secret-0123456789abcdef"
	on := newIdentityEnv(t, func(c *app.Config) { c.Gateway.LegacySharedSecret = legacy })
	off := newIdentityEnv(t)
	sign := func(exp time.Duration, iat bool) string {
		c := jwt.MapClaims{"sub": "a1", "tenant": "shop", "role": "agent", "exp": time.Now().Add(exp).Unix()}
		if iat {
			c["iat"] = time.Now().Unix()
		}
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(legacy))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		g      *apptest.Gateway
		tok    string
		status int
	}{
		{"old token without iat", on.g, sign(time.Hour, false), http.StatusSwitchingProtocols},
		{"old token with iat", on.g, sign(time.Hour, true), http.StatusSwitchingProtocols},
		{"old token living 30 days", on.g, sign(30*24*time.Hour, false), http.StatusUnauthorized},
		{"legacy secret not configured", off.g, sign(time.Hour, true), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := dialFor(tc.g, t, tc.tok, ""); status != tc.status {
				t.Fatalf("status %d %q, want %d", status, body, tc.status)
			}
		})
	}
}
