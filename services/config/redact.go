package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// Mask replaces secret values in Redacted.
const Mask = "***"

// urlPassword matches the password of a URL's user info (scheme://user:password@), also inside
// a comma-separated list of URLs. The password runs to the last @ before the host, so an
// unescaped @ in it does not leave its tail visible.
var urlPassword = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s,]*):[^/\s,]*@`)

// natsToken matches a NATS URL's user info without a colon, which NATS reads as an
// authentication token (nats://token@host). Other schemes keep a bare user name: for Postgres
// it is only the role.
var natsToken = regexp.MustCompile(`(?i)((?:nats|tls|wss?)://)[^:/@\s,]+@`)

// secretParam matches a credential given as a parameter: in a URL's query
// (postgres://db/fd?password=x&sslmode=require) or in a keyword/value connection string
// (host=db password='x y' user=fd), quoted or not.
var secretParam = regexp.MustCompile(`(?i)((?:^|[?&;\s])(?:ssl)?(?:password|passwd|pwd|pass|token|auth_token|access_token|secret|api_?key)\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s,#]*)`)

// RedactURL masks every credential in s, a URL, a comma-separated list of URLs or a
// keyword/value connection string: the password of user info (scheme://user:***@host), a NATS
// token (nats://***@host) and password, token and secret parameters (password=***).
func RedactURL(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}:"+Mask+"@")
	s = natsToken.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasSuffix(m, Mask+"@") {
			return m
		}
		scheme, _, _ := strings.Cut(m, "://")
		return scheme + "://" + Mask + "@"
	})
	return secretParam.ReplaceAllString(s, "${1}"+Mask)
}

// Redacted returns the effective configuration cfg (a struct or a pointer to one) as a map
// keyed like the config file, for logging at start: fields tagged `secret:"true"` read "***"
// when set, passwords in URLs are masked, durations are strings ("25s").
func Redacted(cfg any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(cfg)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return out
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return out
	}
	walk("", rv, func(key string, f reflect.StructField, val reflect.Value) {
		setPath(out, key, redactValue(f, val))
	})
	return out
}

func redactValue(f reflect.StructField, v reflect.Value) any {
	if f.Tag.Get("secret") == "true" {
		if v.IsZero() {
			return v.Interface()
		}
		return Mask
	}
	return plain(v)
}

// plain converts v to log-friendly values, masking URL passwords in every string it holds.
func plain(v reflect.Value) any {
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.String:
		return RedactURL(v.String())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		s := make([]any, v.Len())
		for i := range s {
			s[i] = plain(v.Index(i))
		}
		return s
	case reflect.Map:
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[RedactURL(toString(iter.Key()))] = plain(iter.Value())
		}
		return m
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Struct:
		m := map[string]any{}
		walk("", v, func(key string, f reflect.StructField, val reflect.Value) {
			setPath(m, key, redactValue(f, val))
		})
		return m
	default:
		if v.CanInterface() {
			return v.Interface()
		}
		return nil
	}
}

func toString(v reflect.Value) string {
	if v.Kind() == reflect.String {
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// setPath stores val at the dotted key, creating nested maps.
func setPath(m map[string]any, key string, val any) {
	for {
		head, rest, nested := strings.Cut(key, ".")
		if !nested {
			m[head] = val
			return
		}
		sub, ok := m[head].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[head] = sub
		}
		m, key = sub, rest
	}
}
