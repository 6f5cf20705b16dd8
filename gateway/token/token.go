// Package token holds Frontdesk access tokens: their claims (PROTOCOL.md: sub, tenant, role,
// name, exp; agents' skills and max_chats; optional priority and language), the gateway's own
// signing keys (Keys: ES256 with a kid, rotated without logging anyone out), and HS256 signing
// with a shared secret for local development and the legacy setting.
//
// Which token is accepted for which tenant is decided by the gateway (gateway/internal/auth);
// this package only makes and reads tokens. It is importable on purpose: the local runner mints
// demo sign-in links with Keys, and load generators and other services' tests mint development
// tokens with Sign.
package token

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// DefaultMaxChats is an agent's capacity when the token does not say.
const DefaultMaxChats = 3

// ErrInvalid is wrapped by every verification error (bad signature, algorithm, expiry, claims).
var ErrInvalid = errors.New("invalid token")

// MinSecretBytes is the shortest HS256 secret accepted: 256 bits, the hash's own size (RFC 7518
// section 3.2).
const MinSecretBytes = 32

// Token kinds (claim "kind") of the tokens the gateway signs with its own keys, and the kinds
// the gateway gives the tokens it accepted from elsewhere. Consumers see them in Claims.Kind.
const (
	// KindVisitor is an anonymous visitor's token (POST /v1/visitors).
	KindVisitor = "visitor"
	// KindStaff is a signed-in agent's or supervisor's short-lived console token.
	KindStaff = "staff"
	// KindStaffSession is the long-lived console session kept in an HttpOnly cookie, exchanged
	// for KindStaff tokens; never accepted on a socket.
	KindStaffSession = "staff_session"
	// KindSSOState carries the state, nonce and PKCE verifier of a sign-in in progress (cookie).
	KindSSOState = "sso_state"
	// KindCustomer is a signed-in customer's token from the tenant's own issuer.
	KindCustomer = "customer"
	// KindDevelopment is a token signed with the local development secret.
	KindDevelopment = "development"
	// KindLegacy is a token signed with the legacy shared secret.
	KindLegacy = "legacy"
)

// Claims are the token's claims. Subject and Tenant must be subject tokens
// (subjects.ValidToken); Role is customer, agent or supervisor.
type Claims struct {
	// Subject is the user id (JWT "sub").
	Subject string `json:"sub"`
	// Tenant is the tenant id.
	Tenant string `json:"tenant"`
	// Role is customer, agent or supervisor.
	Role string `json:"role"`
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Skills are an agent's skills.
	Skills []string `json:"skills,omitempty"`
	// MaxChats is an agent's capacity (0 means DefaultMaxChats).
	MaxChats int `json:"max_chats,omitempty"`
	// Priority is a customer's priority (e.g. 10 for VIP).
	Priority int `json:"priority,omitempty"`
	// Language is the user's language, if known.
	Language string `json:"language,omitempty"`
	// Email is the user's email address, if known.
	Email string `json:"email,omitempty"`
	// Attributes are a customer's custom attributes set by the tenant's backend (claim
	// "attributes", an object of strings), kept on their contact.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Kind is one of the Kind constants for the gateway's own tokens.
	Kind string `json:"kind,omitempty"`
	// Issuer is JWT "iss".
	Issuer string `json:"iss,omitempty"`
	// Audience is JWT "aud".
	Audience jwt.ClaimStrings `json:"aud,omitempty"`
	// ExpiresAt is the expiry (JWT "exp"); required.
	ExpiresAt *jwt.NumericDate `json:"exp,omitempty"`
	// IssuedAt is JWT "iat".
	IssuedAt *jwt.NumericDate `json:"iat,omitempty"`
	// NotBefore is JWT "nbf".
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	// ID is JWT "jti".
	ID string `json:"jti,omitempty"`

	// State, Nonce, Verifier and Return belong to KindSSOState tokens only.
	State    string `json:"state,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	Verifier string `json:"verifier,omitempty"`
	Return   string `json:"return,omitempty"`
}

// Lifetime is exp - iat (zero when either is absent).
func (c *Claims) Lifetime() time.Duration {
	if c.ExpiresAt == nil || c.IssuedAt == nil {
		return 0
	}
	return c.ExpiresAt.Sub(c.IssuedAt.Time)
}

// Expiry returns the expiry time (zero when absent).
func (c *Claims) Expiry() time.Time {
	if c.ExpiresAt == nil {
		return time.Time{}
	}
	return c.ExpiresAt.Time
}

// Capacity returns the agent's max_chats with the default applied.
func (c *Claims) Capacity() int {
	if c.MaxChats <= 0 {
		return DefaultMaxChats
	}
	return c.MaxChats
}

// GetExpirationTime implements jwt.Claims.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements jwt.Claims.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience, nil }

// Check reports whether the claims are usable: valid subject and tenant tokens and a known role.
func (c *Claims) Check() error {
	if err := subjects.CheckTokens(c.Subject, c.Tenant); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch c.Role {
	case frames.RoleCustomer, frames.RoleAgent, frames.RoleSupervisor:
	default:
		return fmt.Errorf("%w: role %q", ErrInvalid, c.Role)
	}
	return nil
}

// Sign returns an HS256 token for c that expires ttl from now (c.ExpiresAt and c.IssuedAt are
// overwritten). The gateway accepts such tokens only from its local development secret (for the
// tenants it names) or the legacy shared secret; secrets shorter than MinSecretBytes are refused.
func Sign(secret []byte, c Claims, ttl time.Duration) (string, error) {
	if len(secret) < MinSecretBytes {
		return "", fmt.Errorf("sign token: secret shorter than %d bytes", MinSecretBytes)
	}
	if err := c.Check(); err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	now := time.Now()
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, &c).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// VerifyHS256 checks an HS256 token with secret and returns its claims: signature, exp (required),
// nbf and iat, then Check. Any other algorithm, "none" included, is refused. Every error wraps
// ErrInvalid.
func VerifyHS256(secret []byte, tok string) (*Claims, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("%w: secret shorter than %d bytes", ErrInvalid, MinSecretBytes)
	}
	c := &Claims{}
	_, err := hsParser.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return secret, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}

// Leeway is the clock skew allowed on exp, nbf and iat.
const Leeway = 5 * time.Second

var hsParser = jwt.NewParser(
	jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
	jwt.WithExpirationRequired(),
	jwt.WithIssuedAt(),
	jwt.WithLeeway(Leeway),
)
