package token

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	good := Claims{Subject: "u1", Tenant: "acme", Role: "agent", Name: "Ann", Skills: []string{"billing"}, MaxChats: 5}
	tok, err := Sign(secret, good, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, &Claims{Subject: "u1", Tenant: "acme", Role: "agent",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, &Claims{Subject: "u1", Tenant: "acme", Role: "agent",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &Claims{Subject: "u1", Tenant: "acme", Role: "agent",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour))}).SignedString(secret)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &Claims{Subject: "u1", Tenant: "acme", Role: "agent"}).SignedString(secret)
	badRole, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &Claims{Subject: "u1", Tenant: "acme", Role: "root",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	badTenant, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, &Claims{Subject: "u1", Tenant: "a.>", Role: "agent",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	tests := []struct {
		name   string
		tok    string
		secret []byte
		ok     bool
	}{
		{"valid", tok, secret, true},
		{"wrong secret", tok, []byte("other"), false},
		{"alg none", none, secret, false},
		{"alg HS512", hs512, secret, false},
		{"expired", expired, secret, false},
		{"no exp", noExp, secret, false},
		{"bad role", badRole, secret, false},
		{"bad tenant token", badTenant, secret, false},
		{"garbage", "abc.def.ghi", secret, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewVerifier(tc.secret).Verify(tc.tok)
			if tc.ok {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				if c.Subject != "u1" || c.Tenant != "acme" || c.Role != "agent" || c.Capacity() != 5 || c.Skills[0] != "billing" {
					t.Fatalf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
