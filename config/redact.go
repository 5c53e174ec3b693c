package config

import (
	"net/url"
	"reflect"
	"time"
)

const redacted = "REDACTED"

// Redacted is the configuration as it may be logged or served: private key,
// tokens and the Mongo URI's password replaced.
func (c *Config) Redacted() Config {
	r := *c
	r.Warnings = nil
	r.Chain.RpcEndpoints = append([]string(nil), c.Chain.RpcEndpoints...)
	// RPC URLs often carry a provider's API key in the path or query.
	if r.Chain.Rpc != "" {
		r.Chain.Rpc = RedactURL(r.Chain.Rpc)
	}
	for i, u := range r.Chain.RpcEndpoints {
		r.Chain.RpcEndpoints[i] = RedactURL(u)
	}
	r.Chain.PrivateKeys = make([]string, len(c.Chain.PrivateKeys))
	for i := range c.Chain.PrivateKeys {
		r.Chain.PrivateKeys[i] = redacted
	}
	for _, s := range []*string{&r.Chain.PrivateKey, &r.Admin.Token, &r.Admin.ReadToken, &r.InternalSecret} {
		if *s != "" {
			*s = redacted
		}
	}
	if u, err := url.Parse(r.MongoDB.URI); err == nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			u.User = url.UserPassword(u.User.Username(), redacted)
			r.MongoDB.URI = u.String()
		}
	} else if err != nil {
		r.MongoDB.URI = redacted
	}
	return r
}

// LogFields is the redacted configuration as a nested map for a structured
// log line, with durations written the way they are configured ("30s").
func (c *Config) LogFields() map[string]any {
	return fields(reflect.ValueOf(c.Redacted()))
}

func fields(v reflect.Value) map[string]any {
	out := map[string]any{}
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Name == "Warnings":
		case fv.Type() == reflect.TypeOf(time.Duration(0)):
			out[f.Name] = time.Duration(fv.Int()).String()
		case fv.Kind() == reflect.Struct:
			out[f.Name] = fields(fv)
		default:
			out[f.Name] = fv.Interface()
		}
	}
	return out
}
