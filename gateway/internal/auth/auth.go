// Package auth decides whether a token is accepted, and for which tenant. A token is accepted
// for tenant T only when it verifies with a key that T may use:
//
//   - the gateway's own keys (token.Keys), for the tokens the gateway signs itself: anonymous
//     visitors and signed-in staff, bound to T by their audience "frontdesk:T";
//   - a key of one of T's customer issuers (Tenant.customer_issuers), for T's signed-in
//     customers: role customer only, for T only;
//   - the local development secret, only for the tenants the gateway names as development ones;
//   - the legacy shared secret, for one release, when the operator set it explicitly.
//
// The tenant comes from the request (the widget says which tenant it is embedded for) or, for
// tokens that name it, from the token; when both are given they must agree. Which key may verify
// is chosen before any signature is checked, from the token's issuer and the tenant's settings,
// so a key trusted for one tenant never verifies a token for another.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Lifetime caps per kind of token: a token whose exp - iat is longer is refused.
const (
	// MaxVisitorLifetime caps anonymous visitor tokens.
	MaxVisitorLifetime = 7 * 24 * time.Hour
	// MaxStaffLifetime caps staff console tokens (they are renewed from the session cookie).
	MaxStaffLifetime = time.Hour
	// MaxSessionLifetime caps the console session kept in a cookie.
	MaxSessionLifetime = 12 * time.Hour
	// DefaultCustomerLifetime is a customer issuer's cap when its settings give none.
	DefaultCustomerLifetime = 24 * time.Hour
	// MaxCustomerLifetime is the highest cap a customer issuer may set.
	MaxCustomerLifetime = 7 * 24 * time.Hour
	// MaxDevelopmentLifetime caps tokens signed with the development or legacy secret.
	MaxDevelopmentLifetime = 7 * 24 * time.Hour
)

// Error is a refusal: Status is the HTTP status (401 for a token problem, 403 for a tenant or
// origin that is not allowed), Reason a short metric label and Detail what went wrong.
type Error struct {
	Status int
	Reason string
	Detail string
}

func (e *Error) Error() string { return e.Reason + ": " + e.Detail }

func refuse(reason, format string, args ...any) *Error {
	return &Error{Status: http.StatusUnauthorized, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Config configures an Authenticator.
type Config struct {
	// Issuer is the "iss" of the gateway's own tokens.
	Issuer string
	// Keys returns the gateway's current key set (it may change while running).
	Keys func() *token.Keys
	// DevSecret, when set, verifies HS256 tokens for the tenants in DevTenants ("*": every
	// tenant, for tests). Local development only.
	DevSecret []byte
	// DevTenants are the tenants that accept DevSecret tokens.
	DevTenants []string
	// LegacySecret, when set, verifies HS256 tokens for every tenant and believes their claims:
	// the behaviour before tenant-bound keys, kept for one release.
	LegacySecret []byte
	// HTTPClient fetches customer issuers' key sets.
	HTTPClient *http.Client
	// CacheEntries bounds the cache of verified tokens (cache.go): 0 is DefaultCacheEntries,
	// a negative number turns the cache off.
	CacheEntries int
	// Now is the clock for token times, the cache and key set refreshes (time.Now when nil).
	Now func() time.Time
}

// Authenticator verifies tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg     Config
	log     *zap.Logger
	issuers *issuerKeys
	cache   *verified
}

// New returns an Authenticator. It starts no goroutine: key sets are refreshed by the requests
// that need them.
func New(cfg Config, log *zap.Logger) *Authenticator {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Authenticator{cfg: cfg, log: log, issuers: newIssuerKeys(cfg.HTTPClient, cfg.Now, log),
		cache: newVerified(cfg.CacheEntries, cfg.Now)}
}

// Audience is the audience of the gateway's own tokens for tenant.
func Audience(tenant string) string { return "frontdesk:" + tenant }

// Verify checks raw for tenantHint (the tenant the request is for; empty when the token names
// it) and returns the accepted claims, with Tenant, Role and Subject as Frontdesk will use them.
// tenantOf looks a tenant's settings up. Every refusal is an *Error. A token verified before
// for the same tenantHint is not verified again while what made it good still holds (cache.go).
func (a *Authenticator) Verify(ctx context.Context, raw, tenantHint string, tenantOf func(string) (*fd.Tenant, bool)) (*token.Claims, *fd.Tenant, error) {
	k := cacheKey(raw, tenantHint)
	if p := a.cache.get(k); p != nil {
		if t, ok := tenantOf(p.tenant); ok && a.stillHolds(ctx, p, t) {
			a.cache.hits.Add(1)
			c := *p.claims
			return &c, t, nil
		}
		a.cache.drop(k)
	}
	a.cache.misses.Add(1)
	c, t, p, err := a.verify(ctx, raw, tenantHint, tenantOf)
	if err != nil {
		return nil, nil, err
	}
	if p != nil {
		kept := *c
		p.claims, p.tenant, p.exp = &kept, t.GetId(), c.Expiry()
		a.cache.put(k, p)
	}
	return c, t, nil
}

// verify decides a token with its signature. The proof it returns (nil for tokens not worth
// caching) says which key verified it.
func (a *Authenticator) verify(ctx context.Context, raw, tenantHint string, tenantOf func(string) (*fd.Tenant, bool)) (*token.Claims, *fd.Tenant, *proof, error) {
	// The unverified claims only choose which key may verify; nothing in them is believed until
	// the same parse is verified (parse.go).
	parsed, err := parseToken(raw)
	if err != nil {
		return nil, nil, nil, refuse("bad_token", "not a JWT: %v", err)
	}
	peek := parsed.claims
	tenantID := tenantHint
	if tenantID == "" {
		tenantID = peek.Tenant
	}
	if peek.Tenant != "" && tenantHint != "" && peek.Tenant != tenantHint {
		return nil, nil, nil, refuse("tenant_mismatch", "token is for tenant %q, request for %q", peek.Tenant, tenantHint)
	}
	if !subjects.ValidToken(tenantID) {
		return nil, nil, nil, refuse("no_tenant", "no tenant: name it in the request or the token")
	}
	t, ok := tenantOf(tenantID)
	if !ok {
		return nil, nil, nil, &Error{Status: http.StatusForbidden, Reason: "unknown_tenant", Detail: fmt.Sprintf("tenant %q is not configured", tenantID)}
	}
	alg := parsed.tok.Method.Alg()
	var (
		c *token.Claims
		p *proof
	)
	switch {
	case peek.Issuer != "" && peek.Issuer == a.cfg.Issuer:
		c, p, err = a.verifyOwn(parsed, tenantID)
	case peek.Issuer != "" && issuerOf(t, peek.Issuer) != nil:
		c, p, err = a.verifyCustomer(ctx, parsed, t, issuerOf(t, peek.Issuer))
	case alg == jwt.SigningMethodHS256.Alg() && len(a.cfg.DevSecret) > 0 && a.devTenant(tenantID):
		c, err = a.verifyShared(a.cfg.DevSecret, raw, tenantID, token.KindDevelopment)
	case alg == jwt.SigningMethodHS256.Alg() && len(a.cfg.LegacySecret) > 0:
		c, err = a.verifyShared(a.cfg.LegacySecret, raw, tenantID, token.KindLegacy)
	default:
		return nil, nil, nil, refuse("unknown_issuer", "no key of tenant %q verifies tokens from issuer %q with %s", tenantID, peek.Issuer, alg)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return c, t, p, nil
}

func (a *Authenticator) devTenant(id string) bool {
	return slices.Contains(a.cfg.DevTenants, id) || slices.Contains(a.cfg.DevTenants, "*")
}

// verifyOwn checks a token the gateway signed: its keys, its issuer, the tenant's audience, a
// kind that may open a socket and that kind's lifetime cap.
func (a *Authenticator) verifyOwn(parsed *parsedToken, tenantID string) (*token.Claims, *proof, error) {
	keys := a.cfg.Keys()
	if keys == nil {
		return nil, nil, refuse("bad_token", "the gateway has no keys")
	}
	pr := &proof{own: keys}
	v := jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(token.Leeway), jwt.WithIssuer(a.cfg.Issuer), jwt.WithAudience(Audience(tenantID)), jwt.WithTimeFunc(a.cfg.Now))
	if err := parsed.verify(token.Methods, pr.record(keys.Keyfunc), v); err != nil {
		return nil, nil, refuse(reasonOf(err), "%v", err)
	}
	c := parsed.claims
	if c.Tenant != tenantID {
		return nil, nil, refuse("tenant_mismatch", "token is for tenant %q", c.Tenant)
	}
	var limit time.Duration
	switch c.Kind {
	case token.KindVisitor:
		limit = MaxVisitorLifetime
		if c.Role != frames.RoleCustomer {
			return nil, nil, refuse("bad_role", "a visitor token with role %q", c.Role)
		}
	case token.KindStaff:
		limit = MaxStaffLifetime
		if c.Role != frames.RoleAgent && c.Role != frames.RoleSupervisor {
			return nil, nil, refuse("bad_role", "a staff token with role %q", c.Role)
		}
	default:
		return nil, nil, refuse("bad_kind", "a %q token cannot open a session", c.Kind)
	}
	if err := checkLifetime(c, limit); err != nil {
		return nil, nil, err
	}
	if err := c.Check(); err != nil {
		return nil, nil, refuse("bad_claims", "%v", err)
	}
	return c, pr, nil
}

// VerifySession checks a console session cookie's token (KindStaffSession) for any tenant; the
// tenant it names must still exist.
func (a *Authenticator) VerifySession(raw string, kind string, maxLife time.Duration) (*token.Claims, error) {
	keys := a.cfg.Keys()
	if keys == nil {
		return nil, refuse("bad_token", "the gateway has no keys")
	}
	c := &token.Claims{}
	p := jwt.NewParser(jwt.WithValidMethods(token.Methods), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(token.Leeway), jwt.WithIssuer(a.cfg.Issuer))
	if _, err := p.ParseWithClaims(raw, c, keys.Keyfunc); err != nil {
		return nil, refuse(reasonOf(err), "%v", err)
	}
	if c.Kind != kind {
		return nil, refuse("bad_kind", "a %q token where %q was expected", c.Kind, kind)
	}
	if !slices.Contains(c.Audience, Audience(c.Tenant)) {
		return nil, refuse("bad_audience", "audience %v is not tenant %q's", c.Audience, c.Tenant)
	}
	if err := checkLifetime(c, maxLife); err != nil {
		return nil, err
	}
	return c, nil
}

// Sign signs c with the gateway's keys as issuer, for c.Tenant's audience.
func (a *Authenticator) Sign(c token.Claims, ttl time.Duration) (string, error) {
	keys := a.cfg.Keys()
	if keys == nil {
		return "", errors.New("sign token: the gateway has no keys")
	}
	c.Issuer = a.cfg.Issuer
	c.Audience = jwt.ClaimStrings{Audience(c.Tenant)}
	return keys.Sign(c, ttl)
}

// verifyCustomer checks a token from one of the tenant's own issuers. Only a customer can come
// from there, and only for this tenant; the user id is derived from the issuer's subject so
// that it is the same person on every device and never one of another kind.
func (a *Authenticator) verifyCustomer(ctx context.Context, parsed *parsedToken, t *fd.Tenant, iss *fd.CustomerIssuer) (*token.Claims, *proof, error) {
	kf, err := a.issuers.keyfunc(ctx, iss)
	if err != nil {
		return nil, nil, refuse("issuer_keys", "issuer %q: %v", iss.GetIssuer(), err)
	}
	pr := &proof{issuer: proto.Clone(iss).(*fd.CustomerIssuer)}
	v := jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(token.Leeway), jwt.WithIssuer(iss.GetIssuer()), jwt.WithAudience(iss.GetAudience()), jwt.WithTimeFunc(a.cfg.Now))
	if err := parsed.verify(customerMethods, pr.record(kf), v); err != nil {
		return nil, nil, refuse(reasonOf(err), "%v", err)
	}
	c := parsed.claims
	if c.IssuedAt == nil {
		return nil, nil, refuse("bad_claims", "iat is required")
	}
	if c.Tenant != "" && c.Tenant != t.GetId() {
		return nil, nil, refuse("tenant_mismatch", "token is for tenant %q", c.Tenant)
	}
	if c.Role != "" && c.Role != frames.RoleCustomer {
		return nil, nil, refuse("bad_role", "a customer issuer cannot grant role %q", c.Role)
	}
	limit := DefaultCustomerLifetime
	if s := iss.GetMaxLifetimeS(); s > 0 {
		limit = min(time.Duration(s)*time.Second, MaxCustomerLifetime)
	}
	if err := checkLifetime(c, limit); err != nil {
		return nil, nil, err
	}
	if c.Subject == "" {
		return nil, nil, refuse("bad_claims", "sub is required")
	}
	out := &token.Claims{
		Subject: CustomerID(c.Subject), Tenant: t.GetId(), Role: frames.RoleCustomer, Kind: token.KindCustomer,
		Name: c.Name, Email: c.Email, Priority: c.Priority, Language: c.Language, Attributes: c.Attributes,
		Issuer: c.Issuer, Audience: c.Audience, ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore,
	}
	if err := out.Check(); err != nil {
		return nil, nil, refuse("bad_claims", "%v", err)
	}
	if pr.key == nil {
		// No kid: one of several keys verified it, which one is not known; not cached.
		pr = nil
	}
	return out, pr, nil
}

// customerMethods are the algorithms a tenant's issuer may sign with: asymmetric only, so no
// key a tenant publishes can act as a shared secret.
var customerMethods = []string{"RS256", "ES256", "EdDSA"}

// CustomerID is the Frontdesk user id of a tenant's signed-in customer with subject sub: "c_"
// and the subject itself when it is a short subject token, else "c_" and a hash of it. Anonymous
// visitors ("v_...") and staff ("s_...") can never collide with it.
func CustomerID(sub string) string {
	if subjects.ValidToken(sub) && len(sub) <= 64 {
		return "c_" + sub
	}
	return "c_" + hashID(sub)
}

// StaffID is the user id of a person signed in through issuer with subject sub.
func StaffID(issuer, sub string) string { return "s_" + hashID(issuer+"\x00"+sub) }

func hashID(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

func (a *Authenticator) verifyShared(secret []byte, raw, tenantID, kind string) (*token.Claims, error) {
	c, err := token.VerifyHS256(secret, raw)
	if err != nil {
		return nil, refuse(reasonOf(err), "%v", err)
	}
	if c.Tenant != tenantID {
		return nil, refuse("tenant_mismatch", "token is for tenant %q", c.Tenant)
	}
	// Tokens of the shared secrets were never required to carry iat (backends minted them
	// without); their remaining lifetime is capped instead.
	if c.IssuedAt == nil {
		if left := time.Until(c.ExpiresAt.Time); left > MaxDevelopmentLifetime {
			return nil, refuse("lifetime", "expires in %s, over the cap of %s", left.Round(time.Second), MaxDevelopmentLifetime)
		}
	} else if err := checkLifetime(c, MaxDevelopmentLifetime); err != nil {
		return nil, err
	}
	c.Kind = kind
	return c, nil
}

func checkLifetime(c *token.Claims, limit time.Duration) error {
	if c.IssuedAt == nil {
		return refuse("bad_claims", "iat is required")
	}
	if l := c.Lifetime(); l > limit {
		return refuse("lifetime", "lifetime %s is over the cap of %s", l, limit)
	}
	return nil
}

// reasonOf names a verification error for metrics.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not_yet_valid"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued_in_future"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "bad_audience"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "bad_issuer"
	case strings.Contains(err.Error(), "signing method"):
		// golang-jwt reports an algorithm outside the allowed list as an invalid signature.
		return "bad_algorithm"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad_signature"
	default:
		return "bad_token"
	}
}

func issuerOf(t *fd.Tenant, iss string) *fd.CustomerIssuer {
	for _, ci := range t.GetCustomerIssuers() {
		if ci.GetIssuer() == iss {
			return ci
		}
	}
	return nil
}

// Ring holds the gateway's current key set; Load swaps in a new one.
type Ring struct{ p atomic.Pointer[token.Keys] }

// Keys returns the current key set.
func (r *Ring) Keys() *token.Keys { return r.p.Load() }

// Store makes k the current key set.
func (r *Ring) Store(k *token.Keys) { r.p.Store(k) }

// RenewalWindow is how long after it expired a visitor token still proves who the visitor was,
// so that a renewal keeps the visitor's id.
const RenewalWindow = 30 * 24 * time.Hour

// PreviousVisitor checks a visitor token presented to renew it: signed by the gateway's keys
// for tenant, kind visitor, expired no longer than RenewalWindow ago. It returns the visitor's
// id; the caller signs a fresh token for the same id.
func (a *Authenticator) PreviousVisitor(raw, tenant string) (string, error) {
	keys := a.cfg.Keys()
	if keys == nil {
		return "", refuse("bad_token", "the gateway has no keys")
	}
	c := &token.Claims{}
	p := jwt.NewParser(jwt.WithValidMethods(token.Methods), jwt.WithoutClaimsValidation())
	if _, err := p.ParseWithClaims(raw, c, keys.Keyfunc); err != nil {
		return "", refuse(reasonOf(err), "%v", err)
	}
	switch {
	case c.Issuer != a.cfg.Issuer:
		return "", refuse("bad_issuer", "not the gateway's token")
	case c.Kind != token.KindVisitor || c.Role != frames.RoleCustomer:
		return "", refuse("bad_kind", "not a visitor token")
	case c.Tenant != tenant || !slices.Contains(c.Audience, Audience(tenant)):
		return "", refuse("tenant_mismatch", "token is for tenant %q", c.Tenant)
	case c.ExpiresAt == nil || time.Since(c.ExpiresAt.Time) > RenewalWindow:
		return "", refuse("expired", "expired more than %s ago", RenewalWindow)
	}
	return c.Subject, nil
}
