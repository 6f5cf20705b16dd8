package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	secret := []byte("development-secret-0123456789abcdef")
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
		{"wrong secret", tok, []byte("another-development-secret-0123456789"), false},
		{"short secret", tok, secret[:31], false},
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
			c, err := VerifyHS256(tc.secret, tc.tok)
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

func TestSignRefusesShortSecret(t *testing.T) {
	t.Parallel()
	if _, err := Sign([]byte("0123456789abcdef0123456789abcde"), Claims{Subject: "u", Tenant: "t", Role: "agent"}, time.Minute); err == nil {
		t.Fatal("31-byte secret accepted")
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	first, err := GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := ParseKeys(first)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := k1.Sign(Claims{Subject: "u1", Tenant: "acme", Role: "agent"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := GenerateKeys(first)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseKeys(rotated)
	if err != nil {
		t.Fatal(err)
	}
	if k2.SigningKID() == k1.SigningKID() || len(k2.KIDs()) != 2 {
		t.Fatalf("rotation: kids %v, signing %s", k2.KIDs(), k2.SigningKID())
	}
	// The old key's token verifies with the rotated set; the new key signs.
	if _, err := jwt.ParseWithClaims(tok, &Claims{}, k2.Keyfunc, jwt.WithValidMethods(Methods)); err != nil {
		t.Fatalf("old token after rotation: %v", err)
	}
	tok2, _ := k2.Sign(Claims{Subject: "u1", Tenant: "acme", Role: "agent"}, time.Minute)
	if _, err := jwt.ParseWithClaims(tok2, &Claims{}, k1.Keyfunc, jwt.WithValidMethods(Methods)); err == nil {
		t.Fatal("new key verified by the old set")
	}
	// A deployment whose keys are ES256 rotates to an EdDSA key without logging anyone out.
	es, err := GenerateKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	kes, err := ParseKeys(es)
	if err != nil {
		t.Fatal(err)
	}
	esTok, _ := kes.Sign(Claims{Subject: "u1", Tenant: "acme", Role: "agent"}, time.Minute)
	toEd, err := GenerateKeysFor("EdDSA", es)
	if err != nil {
		t.Fatal(err)
	}
	ked, err := ParseKeys(toEd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.ParseWithClaims(esTok, &Claims{}, ked.Keyfunc, jwt.WithValidMethods(Methods)); err != nil {
		t.Fatalf("ES256 token after rotating to EdDSA: %v", err)
	}
	edTok, _ := ked.Sign(Claims{Subject: "u1", Tenant: "acme", Role: "agent"}, time.Minute)
	p, err := jwt.ParseWithClaims(edTok, &Claims{}, ked.Keyfunc, jwt.WithValidMethods(Methods))
	if err != nil {
		t.Fatal(err)
	}
	if p.Method.Alg() != "EdDSA" {
		t.Fatalf("the new key signs %s", p.Method.Alg())
	}
	pub, err := k2.PublicJWKS()
	if err != nil || strings.Contains(string(pub), `"d"`) {
		t.Fatalf("public set leaks private parts or failed: %v %s", err, pub)
	}
	for _, bad := range []struct{ name, json string }{
		{"not JSON", "{"},
		{"empty", `{"keys":[]}`},
		{"public key only", string(pub)},
		{"symmetric", `{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}`},
	} {
		if _, err := ParseKeys([]byte(bad.json)); err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
}
