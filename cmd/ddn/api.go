package main

import (
	"time"

	"ddn/adapters/httpapi"
	"ddn/config"
	"ddn/ports"
)

// withQueryAPI adds what the query and management API need to the HTTP
// options: the store, the read token, the redacted configuration and the
// retention policy.
func withQueryAPI(cfg *config.Config, store ports.Store, o httpapi.Options) httpapi.Options {
	o.Fleet = store
	o.ReadToken = cfg.Admin.ReadToken
	o.Config = cfg.LogFields()
	o.Retention = httpapi.Retention{ExpireAfter: time.Duration(cfg.MongoDB.ExpireTime) * time.Second, Interval: cfg.MongoDB.RetentionInterval}
	o.ImportMaxBytes = cfg.Admin.ImportMaxBytes
	return o
}
