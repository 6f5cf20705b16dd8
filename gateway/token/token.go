// Package token signs and verifies Frontdesk access tokens: JWTs signed with HS256 carrying the
// claims of PROTOCOL.md (sub, tenant, role, name, exp; agents' skills and max_chats; optional
// priority and language).
//
// It is importable on purpose: deployment tooling mints demo tokens and other services' tests
// mint tokens for the gateway with Sign.
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
	// ExpiresAt is the expiry (JWT "exp"); required.
	ExpiresAt *jwt.NumericDate `json:"exp,omitempty"`
	// IssuedAt is JWT "iat".
	IssuedAt *jwt.NumericDate `json:"iat,omitempty"`
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
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) { return nil, nil }

// GetIssuer implements jwt.Claims.
func (c *Claims) GetIssuer() (string, error) { return "", nil }

// GetSubject implements jwt.Claims.
func (c *Claims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) { return nil, nil }

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

// Sign returns an HS256 token for c that expires ttl from now (c.ExpiresAt is overwritten).
func Sign(secret []byte, c Claims, ttl time.Duration) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("sign token: empty secret")
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

// Verifier checks HS256 tokens with one secret. Tokens signed with any other algorithm
// (including "none") are refused.
type Verifier struct {
	secret []byte
	parser *jwt.Parser
}

// NewVerifier returns a Verifier for secret.
func NewVerifier(secret []byte) *Verifier {
	return &Verifier{
		secret: secret,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(5*time.Second),
		),
	}
}

// Verify parses and checks a token and returns its claims. Every error wraps ErrInvalid.
func (v *Verifier) Verify(tok string) (*Claims, error) {
	if len(v.secret) == 0 {
		return nil, fmt.Errorf("%w: no secret configured", ErrInvalid)
	}
	c := &Claims{}
	_, err := v.parser.ParseWithClaims(tok, c, func(*jwt.Token) (any, error) { return v.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	return c, nil
}
