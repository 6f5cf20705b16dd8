package sso

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Staff is who a provider's claims make of a person signing in.
type Staff struct {
	Subject  string // the provider's sub
	Email    string
	Name     string
	Role     string // frames.RoleAgent or frames.RoleSupervisor
	Skills   []string
	MaxChats int
}

// ErrNotAllowed is wrapped when the provider vouches for someone the tenant does not admit.
var ErrNotAllowed = errors.New("not allowed to sign in")

// MapClaims decides, from the merged ID token and userinfo claims, whether the person may sign
// in to the tenant's console and as whom. Pure: the table tests are the policy's definition.
func MapClaims(cfg *fd.StaffSSO, claims map[string]any) (Staff, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Staff{}, fmt.Errorf("%w: the provider gave no subject", ErrNotAllowed)
	}
	s := Staff{Subject: sub}
	s.Email, _ = claims["email"].(string)
	if domains := cfg.GetAllowedEmailDomains(); len(domains) > 0 {
		if verified, _ := claims["email_verified"].(bool); !verified || s.Email == "" {
			return Staff{}, fmt.Errorf("%w: a verified email is required", ErrNotAllowed)
		}
		at := strings.LastIndexByte(s.Email, '@')
		domain := strings.ToLower(s.Email[at+1:])
		if at < 0 || !slices.ContainsFunc(domains, func(d string) bool { return strings.EqualFold(d, domain) }) {
			return Staff{}, fmt.Errorf("%w: email domain %q", ErrNotAllowed, domain)
		}
	}
	groupsClaim := cfg.GetGroupsClaim()
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	groups := stringList(claims[groupsClaim])
	member := func(want []string) bool {
		return slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(want, g) })
	}
	if allowed := cfg.GetAllowedGroups(); len(allowed) > 0 && !member(allowed) {
		return Staff{}, fmt.Errorf("%w: in none of the groups %v", ErrNotAllowed, allowed)
	}
	s.Role = frames.RoleAgent
	if member(cfg.GetSupervisorGroups()) {
		s.Role = frames.RoleSupervisor
	}
	if rc := cfg.GetRoleClaim(); rc != "" {
		switch r, _ := claims[rc].(string); r {
		case frames.RoleAgent, frames.RoleSupervisor:
			s.Role = r
		case "":
		default:
			return Staff{}, fmt.Errorf("%w: role %q", ErrNotAllowed, r)
		}
	}
	if sc := cfg.GetSkillsClaim(); sc != "" {
		s.Skills = stringList(claims[sc])
	}
	if mc := cfg.GetMaxChatsClaim(); mc != "" {
		switch v := claims[mc].(type) {
		case float64:
			s.MaxChats = int(v)
		case string:
			s.MaxChats, _ = strconv.Atoi(v)
		}
		s.MaxChats = max(0, min(s.MaxChats, 100))
	}
	nameClaim := cfg.GetNameClaim()
	if nameClaim == "" {
		nameClaim = "name"
	}
	for _, k := range []string{nameClaim, "name", "preferred_username", "email"} {
		if v, _ := claims[k].(string); strings.TrimSpace(v) != "" {
			s.Name = strings.TrimSpace(v)
			break
		}
	}
	if r := []rune(s.Name); len(r) > 64 {
		s.Name = string(r[:64])
	}
	return s, nil
}

// stringList reads a claim that is a list of strings or one space-separated string.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	}
	return nil
}
