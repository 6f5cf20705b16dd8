package auth

// One parse per token. Choosing the key that may verify a token needs its header and claims
// (issuer, tenant, alg) before the signature is checked; jwt.Parser.ParseWithClaims would then
// decode the same three segments and unmarshal the same JSON a second time (the two parses were
// a tenth of the gateway's CPU at 1,000 new visitors a second, and 40% of a verification's
// allocations: BENCHMARKS.md, "New visitors beside the chat"). So the token is parsed once, and
// what ParseWithClaims does after its own parse (the algorithm allowed, the key, the signature
// over the same bytes, the claims' checks) is done here on that parse, with golang-jwt's own
// signing methods and validator.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
)

// unverifiedParser decodes a token without checking it (the same decoding options as the
// verifying parsers: none).
var unverifiedParser = jwt.NewParser()

// parsedToken is a token decoded once. Nothing in it is believed until verify succeeds.
type parsedToken struct {
	raw    string
	tok    *jwt.Token
	claims *token.Claims
}

// parseToken decodes raw's header, claims and signature. An error wraps jwt.ErrTokenMalformed
// or jwt.ErrTokenUnverifiable (an alg golang-jwt does not know).
func parseToken(raw string) (*parsedToken, error) {
	c := &token.Claims{}
	t, _, err := unverifiedParser.ParseUnverified(raw, c)
	if err != nil {
		return nil, err
	}
	return &parsedToken{raw: raw, tok: t, claims: c}, nil
}

// verify checks p as jwt.Parser.ParseWithClaims does after its parse: the algorithm is one of
// methods, kf gives the key (a key set is tried key by key), the signature holds over the
// token's first two segments, then v checks the claims. Its errors wrap the same jwt sentinel
// errors as ParseWithClaims' (reasonOf names them), with the same texts where reasonOf reads
// them. p.claims are trusted only when it returns nil.
func (p *parsedToken) verify(methods []string, kf jwt.Keyfunc, v *jwt.Validator) error {
	alg := p.tok.Method.Alg()
	if !slices.Contains(methods, alg) {
		return fmt.Errorf("%w: signing method %v is invalid", jwt.ErrTokenSignatureInvalid, alg)
	}
	key, err := kf(p.tok)
	if err != nil {
		return fmt.Errorf("%w: error while executing keyfunc: %w", jwt.ErrTokenUnverifiable, err)
	}
	// ParseUnverified accepted exactly three segments, so the last dot ends the signed part.
	signed := p.raw[:strings.LastIndexByte(p.raw, '.')]
	switch k := key.(type) {
	case jwt.VerificationKeySet:
		if len(k.Keys) == 0 {
			return fmt.Errorf("%w: keyfunc returned empty verification key set", jwt.ErrTokenUnverifiable)
		}
		for _, one := range k.Keys {
			if err = p.tok.Method.Verify(signed, p.tok.Signature, one); err == nil {
				break
			}
		}
	default:
		err = p.tok.Method.Verify(signed, p.tok.Signature, key)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err)
	}
	if err := v.Validate(p.claims); err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err)
	}
	p.tok.Valid = true
	return nil
}
