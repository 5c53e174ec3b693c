package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"go.uber.org/zap"

	"ddn/adapters/clientip"
	"ddn/adapters/httpapi"
	"ddn/adapters/prom"
	"ddn/adapters/signature"
	"ddn/adapters/websocket"
	"ddn/config"
)

// secureWebSocket sets the limits, origins, client-IP rule and signature
// checks of the configuration on the WebSocket options.
func secureWebSocket(cfg *config.Config, o *websocket.Options, metrics *prom.NodeMetrics, log *zap.Logger) error {
	ips, err := clientip.New(cfg.Security.TrustedProxies)
	if err != nil {
		return fmt.Errorf("config: Security.TrustedProxies: %w", err)
	}
	o.ClientIP = ips.ClientIP
	o.OriginPatterns = cfg.Security.AllowedOrigins
	o.WriteTimeout = cfg.Limits.WriteTimeout
	l := cfg.Limits
	o.Limits = websocket.Limits{MaxConnections: l.MaxConnections, MaxConnectionsPerIP: l.MaxConnectionsPerIP, MaxAnonymous: l.MaxAnonymous,
		OnlineDeadline: l.OnlineDeadline, MessageRate: l.MessageRate, MessageBurst: l.MessageBurst, RateStrikes: l.RateStrikes}
	lm := prom.NewLimitMetrics()
	if err := metrics.Register(lm.Collectors()...); err != nil {
		return fmt.Errorf("register limit metrics: %w", err)
	}
	o.LimitObserver = lm
	o.VerifySignatures, o.RequireSignatures = cfg.Security.VerifySignatures, cfg.Security.RequireSignatures
	o.Verifier = signature.Secp256k1{}
	log.Info("security", zap.Bool("verify_signatures", o.VerifySignatures), zap.Bool("require_signatures", o.RequireSignatures),
		zap.Strings("trusted_proxies", cfg.Security.TrustedProxies), zap.Strings("allowed_origins", o.OriginPatterns))
	return nil
}

// secureHTTP sets the contract routes' credentials, the CORS headers and
// the client-IP rule of the configuration on the HTTP options.
func secureHTTP(cfg *config.Config, o *httpapi.Options, log *zap.Logger) error {
	ips, err := clientip.New(cfg.Security.TrustedProxies)
	if err != nil {
		return fmt.Errorf("config: Security.TrustedProxies: %w", err)
	}
	o.ClientIP = ips.ClientIP
	o.InternalSecret, o.OpenContractRoutes = cfg.InternalSecret, cfg.Admin.OpenContractRoutes
	c := cfg.CORS
	o.CORS = httpapi.CORS{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
		AllowCredentials: c.AllowCredentials, MaxAge: c.MaxAge}
	switch {
	case len(cfg.Admin.OpenContractRoutes) > 0:
		log.Warn("contract routes open to anyone who reaches the listener, as the original node's were (Admin.OpenContractRoutes)",
			zap.Strings("actions", cfg.Admin.OpenContractRoutes))
	case cfg.InternalSecret == "" && cfg.Admin.Token == "":
		log.Info("contract routes off: set InternalSecret (X-Internal-Secret) or Admin.Token")
	}
	return nil
}

// hardenServer puts the configured request bounds and the panic recovery on
// a listener's server.
func hardenServer(cfg *config.Config, srv *http.Server, log *zap.Logger) {
	httpapi.ServerLimits{ReadHeaderTimeout: cfg.Limits.HandshakeTimeout, ReadTimeout: cfg.Limits.ReadTimeout,
		WriteTimeout: cfg.Limits.WriteTimeout, IdleTimeout: cfg.Limits.IdleTimeout}.Apply(srv)
	srv.Handler = httpapi.Harden(srv.Handler, log)
	if std, err := zap.NewStdLogAt(log.Named("server"), zap.WarnLevel); err == nil {
		srv.ErrorLog = std
	}
}

// serveAdmin starts the separate admin listener when AdminAddr is set (TLS
// with the same certificate as Addr) and returns how to stop it.
func serveAdmin(cfg *config.Config, o httpapi.Options, serveErr chan<- error, log *zap.Logger) (func(context.Context), error) {
	if cfg.AdminAddr == "" {
		return func(context.Context) {}, nil
	}
	srv := httpapi.NewServer(cfg.AdminAddr, httpapi.NewAdmin(o))
	hardenServer(cfg, srv, log)
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on AdminAddr %s: %w", cfg.AdminAddr, err)
	}
	go func() {
		var err error
		if cfg.Certificate.Cert != "" {
			err = srv.ServeTLS(ln, cfg.Certificate.Cert, cfg.Certificate.Key)
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("admin listener: %w", err)
		}
	}()
	log.Info("admin listener serving metrics and admin API", zap.String("admin_addr", ln.Addr().String()), zap.Bool("tls", cfg.Certificate.Cert != ""))
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			log.Error("stop admin listener", zap.Error(err))
		}
	}, nil
}
