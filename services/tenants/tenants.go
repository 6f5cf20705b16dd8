// Package tenants loads tenant settings from the seed file, seeds them into the tenants KV
// bucket and keeps a live, in-memory view of the bucket for every service.
//
// The bucket holds each tenant as protojson (frontdesk.v1.Tenant) under its id, so operators
// can read and edit it with the nats CLI; a change applies to every service without a restart.
// A tenant that is not in the bucket does not exist: callers refuse it.
package tenants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	// Business hours name IANA zones; embedding the database makes them work in scratch or
	// distroless images that have no /usr/share/zoneinfo.
	_ "time/tzdata"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// ErrInvalid is wrapped by every validation error of a tenant.
var ErrInvalid = errors.New("invalid tenant")

// jsonPosition matches the "(line 1:2): " part of protojson errors.
var jsonPosition = regexp.MustCompile(`\(line \d+:\d+\): `)

// seedFile is the shape of the tenants YAML file.
type seedFile struct {
	Tenants []map[string]any `yaml:"tenants"`
}

// LoadFile reads the tenants YAML file at path:
//
//	tenants:
//	  - id: demo
//	    name: Demo
//	    allowed_origins: ["http://localhost:*"]
//	    bot: {greeting: "Hi!"}
//
// Field names are the proto field names of frontdesk.v1.Tenant. Decoding is strict: an unknown
// field is an error naming the tenant and the field. Each tenant is validated (Validate) and ids
// must be unique. Defaults are not filled in (see Defaults): the bucket stores what the file
// says.
func LoadFile(path string) ([]*frontdeskv1.Tenant, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tenants file: %w", err)
	}
	var f seedFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("tenants file %s: %w", path, err)
	}
	out := make([]*frontdeskv1.Tenant, 0, len(f.Tenants))
	seen := map[string]bool{}
	for i, m := range f.Tenants {
		name := fmt.Sprintf("#%d", i+1)
		if id, ok := m["id"].(string); ok && id != "" {
			name = fmt.Sprintf("%q", id)
		}
		js, err := json.Marshal(jsonable(m))
		if err != nil {
			return nil, fmt.Errorf("tenants file %s: tenant %s: %w", path, name, err)
		}
		t, err := Unmarshal(js)
		if err != nil {
			// The position protojson reports is in the JSON made from the YAML, which would
			// only mislead; the field name it quotes is what the reader needs.
			msg := jsonPosition.ReplaceAllString(err.Error(), "")
			return nil, fmt.Errorf("tenants file %s: tenant %s: %s", path, name, msg)
		}
		if err := Validate(t); err != nil {
			return nil, fmt.Errorf("tenants file %s: tenant %s: %w", path, name, err)
		}
		if seen[t.GetId()] {
			return nil, fmt.Errorf("tenants file %s: tenant %s: %w: duplicate id", path, name, ErrInvalid)
		}
		seen[t.GetId()] = true
		out = append(out, t)
	}
	return out, nil
}

// jsonable converts what yaml.v3 decodes (maps keyed by any, for non-string keys) into values
// encoding/json accepts.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	default:
		return v
	}
}

// Unmarshal decodes a tenant from protojson, strictly (unknown fields are errors). A bot block
// without "enabled" means enabled, as tenant.proto documents; proto3 cannot tell an absent bool
// from false, so this is decided here from the JSON.
func Unmarshal(data []byte) (*frontdeskv1.Tenant, error) {
	t := &frontdeskv1.Tenant{}
	if err := protojson.Unmarshal(data, t); err != nil {
		return nil, err
	}
	if t.Bot != nil && !t.Bot.Enabled {
		var probe struct {
			Bot map[string]json.RawMessage `json:"bot"`
		}
		if err := json.Unmarshal(data, &probe); err == nil && probe.Bot != nil {
			if _, explicit := probe.Bot["enabled"]; !explicit {
				t.Bot.Enabled = true
			}
		}
	}
	return t, nil
}

// Marshal encodes a tenant as stored in the bucket: protojson with proto field names, and
// zero values written out so that "enabled": false survives the round trip through
// Unmarshal.
func Marshal(t *frontdeskv1.Tenant) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true, Multiline: true}.Marshal(t)
}

// Validate checks what no service can work around: the id and queue names are subject tokens,
// enumerations hold known values, the time zone and opening hours parse, numbers are not
// negative. Errors wrap ErrInvalid and name the field.
func Validate(t *frontdeskv1.Tenant) error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	var errs []error
	if !subjects.ValidToken(t.GetId()) {
		errs = append(errs, bad("id", "%q is not a subject token (1-128 letters, digits, '-', '_')", t.GetId()))
	}
	queues := map[string]bool{}
	for i, q := range t.GetQueues() {
		if !subjects.ValidToken(q.GetName()) {
			errs = append(errs, bad(fmt.Sprintf("queues[%d].name", i), "%q is not a subject token", q.GetName()))
		}
		if queues[q.GetName()] {
			errs = append(errs, bad(fmt.Sprintf("queues[%d].name", i), "duplicate queue %q", q.GetName()))
		}
		queues[q.GetName()] = true
		if q.GetMaxWaitS() < 0 {
			errs = append(errs, bad(fmt.Sprintf("queues[%d].max_wait_s", i), "must not be negative"))
		}
	}
	if p := t.GetRouting().GetPolicy(); p != "" && p != PolicyLeastBusy && p != PolicyRoundRobin {
		errs = append(errs, bad("routing.policy", "%q is not %s or %s", p, PolicyLeastBusy, PolicyRoundRobin))
	}
	if m := t.GetRetention().GetMode(); m != "" && m != RetentionDelete && m != RetentionAnonymize {
		errs = append(errs, bad("retention.mode", "%q is not %s or %s", m, RetentionDelete, RetentionAnonymize))
	}
	if h := t.GetHours(); h != nil {
		if h.GetTimeZone() != "" {
			if _, err := time.LoadLocation(h.GetTimeZone()); err != nil {
				errs = append(errs, bad("hours.time_zone", "%v", err))
			}
		} else if len(h.GetWindows()) > 0 {
			errs = append(errs, bad("hours.time_zone", "is required with windows"))
		}
		for i, w := range h.GetWindows() {
			field := fmt.Sprintf("hours.windows[%d]", i)
			for _, d := range w.GetDays() {
				if !slices.Contains(weekdays, strings.ToLower(d)) {
					errs = append(errs, bad(field+".days", "%q is not one of %s", d, strings.Join(weekdays, ", ")))
				}
			}
			open, err1 := time.Parse("15:04", w.GetOpen())
			closing, err2 := time.Parse("15:04", w.GetClose())
			switch {
			case err1 != nil:
				errs = append(errs, bad(field+".open", "%q is not HH:MM", w.GetOpen()))
			case err2 != nil && w.GetClose() != "24:00":
				errs = append(errs, bad(field+".close", "%q is not HH:MM", w.GetClose()))
			case err2 == nil && !closing.After(open):
				errs = append(errs, bad(field+".close", "%s is not after open %s", w.GetClose(), w.GetOpen()))
			}
		}
	}
	l := t.GetLimits()
	for field, neg := range map[string]bool{
		"limits.max_frame_bytes":          l.GetMaxFrameBytes() < 0,
		"limits.messages_per_second":      l.GetMessagesPerSecond() < 0,
		"limits.burst":                    l.GetBurst() < 0,
		"limits.user_messages_per_second": l.GetUserMessagesPerSecond() < 0,
		"limits.max_connections_per_user": l.GetMaxConnectionsPerUser() < 0,
		"agent_offline_grace_s":           t.GetAgentOfflineGraceS() < 0,
		"max_chats":                       t.GetMaxChats() < 0,
		"attachments.max_bytes":           t.GetAttachments().GetMaxBytes() < 0,
		"retention.days":                  t.GetRetention().GetDays() < 0,
		"routing.offer_timeout_s":         t.GetRouting().GetOfferTimeoutS() < 0,
		"routing.hook_timeout_ms":         t.GetRouting().GetHookTimeoutMs() < 0,
		"bot.history_turns":               t.GetBot().GetHistoryTurns() < 0,
		"bot.model.timeout_s":             t.GetBot().GetModel().GetTimeoutS() < 0,
		"bot.model.max_concurrency":       t.GetBot().GetModel().GetMaxConcurrency() < 0,
	} {
		if neg {
			errs = append(errs, bad(field, "must not be negative"))
		}
	}
	errs = append(errs, validateIdentity(t, bad)...)
	errs = append(errs, validateWorkspace(t, bad)...) // workspace.go
	// Sorted so the message is the same every time.
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// validateIdentity checks the keys and providers a tenant trusts: each customer issuer names
// itself, its audience and exactly one key set; URLs are https (http only on loopback, for
// tests and local providers); SSO client secrets are references, never values.
func validateIdentity(t *frontdeskv1.Tenant, bad func(field, format string, args ...any) error) []error {
	var errs []error
	seen := map[string]bool{}
	for i, ci := range t.GetCustomerIssuers() {
		f := fmt.Sprintf("customer_issuers[%d]", i)
		if ci.GetIssuer() == "" {
			errs = append(errs, bad(f+".issuer", "is required"))
		}
		if seen[ci.GetIssuer()] {
			errs = append(errs, bad(f+".issuer", "%q twice", ci.GetIssuer()))
		}
		seen[ci.GetIssuer()] = true
		if ci.GetAudience() == "" {
			errs = append(errs, bad(f+".audience", "is required"))
		}
		switch {
		case (ci.GetJwksUrl() == "") == (ci.GetJwks() == ""):
			errs = append(errs, bad(f, "set exactly one of jwks_url and jwks"))
		case ci.GetJwksUrl() != "":
			if err := secureURL(ci.GetJwksUrl()); err != nil {
				errs = append(errs, bad(f+".jwks_url", "%v", err))
			}
		}
		if s := ci.GetMaxLifetimeS(); s < 0 || s > 7*24*3600 {
			errs = append(errs, bad(f+".max_lifetime_s", "must be between 0 and 604800"))
		}
	}
	if s := t.GetStaffSso(); s != nil && s.GetIssuer() != "" {
		if err := secureURL(s.GetIssuer()); err != nil {
			errs = append(errs, bad("staff_sso.issuer", "%v", err))
		}
		if s.GetClientId() == "" {
			errs = append(errs, bad("staff_sso.client_id", "is required"))
		}
		if e := s.GetClientSecretEnv(); e != "" && !strings.HasPrefix(e, "FRONTDESK_SSO_") {
			errs = append(errs, bad("staff_sso.client_secret_env", "%q must start with FRONTDESK_SSO_", e))
		}
		if f := s.GetClientSecretFile(); f != "" && (strings.ContainsAny(f, `/\`) || strings.HasPrefix(f, ".")) {
			errs = append(errs, bad("staff_sso.client_secret_file", "%q must be a plain file name", f))
		}
		if s.GetClientSecretEnv() != "" && s.GetClientSecretFile() != "" {
			errs = append(errs, bad("staff_sso", "set at most one of client_secret_env and client_secret_file"))
		}
	}
	return errs
}

// secureURL accepts https URLs, and http ones on a loopback host.
func secureURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (http only on a loopback address)", raw)
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
