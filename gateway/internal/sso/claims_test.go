package sso

import (
	"errors"
	"fmt"
	"testing"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestMapClaims(t *testing.T) {
	t.Parallel()
	strict := &fd.StaffSSO{AllowedEmailDomains: []string{"acme.com"}, AllowedGroups: []string{"support"},
		SupervisorGroups: []string{"leads"}, SkillsClaim: "skills", MaxChatsClaim: "max_chats", NameClaim: "display"}
	open := &fd.StaffSSO{}
	roles := &fd.StaffSSO{RoleClaim: "fd_role", SupervisorGroups: []string{"leads"}}
	tests := []struct {
		name   string
		cfg    *fd.StaffSSO
		claims map[string]any
		want   Staff
		denied bool
	}{
		{"agent with skills, capacity and name claim", strict, map[string]any{"sub": "1", "email": "ann@acme.com", "email_verified": true,
			"groups": []any{"support"}, "skills": []any{"billing", "fr"}, "max_chats": 4.0, "display": "Ann"},
			Staff{Subject: "1", Email: "ann@acme.com", Name: "Ann", Role: frames.RoleAgent, Skills: []string{"billing", "fr"}, MaxChats: 4}, false},
		{"supervisor by group, skills as a string", strict, map[string]any{"sub": "2", "email": "sam@ACME.com", "email_verified": true,
			"groups": []any{"support", "leads"}, "skills": "vip billing", "name": "Sam"},
			Staff{Subject: "2", Email: "sam@ACME.com", Name: "Sam", Role: frames.RoleSupervisor, Skills: []string{"vip", "billing"}}, false},
		{"unverified email", strict, map[string]any{"sub": "3", "email": "x@acme.com", "email_verified": false, "groups": []any{"support"}}, Staff{}, true},
		{"other domain", strict, map[string]any{"sub": "3", "email": "x@acme.com.evil", "email_verified": true, "groups": []any{"support"}}, Staff{}, true},
		{"no email", strict, map[string]any{"sub": "3", "groups": []any{"support"}}, Staff{}, true},
		{"not in an allowed group", strict, map[string]any{"sub": "3", "email": "x@acme.com", "email_verified": true, "groups": []any{"sales"}}, Staff{}, true},
		{"no subject", open, map[string]any{"email": "x@y.z"}, Staff{}, true},
		{"open: anyone is an agent, name from preferred_username", open, map[string]any{"sub": "4", "preferred_username": "zoe"},
			Staff{Subject: "4", Name: "zoe", Role: frames.RoleAgent}, false},
		{"capacity clamped", &fd.StaffSSO{MaxChatsClaim: "m"}, map[string]any{"sub": "5", "m": 1e9},
			Staff{Subject: "5", Role: frames.RoleAgent, MaxChats: 100}, false},
		{"role claim wins over groups", roles, map[string]any{"sub": "6", "groups": []any{"leads"}, "fd_role": "agent"},
			Staff{Subject: "6", Role: frames.RoleAgent}, false},
		{"role claim supervisor", roles, map[string]any{"sub": "7", "fd_role": "supervisor"}, Staff{Subject: "7", Role: frames.RoleSupervisor}, false},
		{"role claim with an unknown role", roles, map[string]any{"sub": "8", "fd_role": "admin"}, Staff{}, true},
		{"role claim absent: groups decide", roles, map[string]any{"sub": "9", "groups": "leads"}, Staff{Subject: "9", Role: frames.RoleSupervisor}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := MapClaims(tc.cfg, tc.claims)
			if tc.denied {
				if !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("err = %v, want ErrNotAllowed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
