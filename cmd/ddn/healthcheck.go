package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"ddn/config"
)

const healthcheckUsage = `NAME
  ddn healthcheck - exit 0 when the local node answers /healthz

SYNOPSIS
  ddn healthcheck [-addr HOST:PORT] [-config FILE] [-path /healthz] [-timeout 3s]

DESCRIPTION
  GETs http://ADDR/healthz (https when the node serves TLS) and exits 0 on
  a 200 answer, 1 otherwise. It is the container image's HEALTHCHECK: the
  image has no shell and no curl. Without -addr the address is the node's
  Addr from -config and the DDN_* environment (DDN_ADDR), with a wildcard
  host (0.0.0.0, ::, empty) replaced by 127.0.0.1. Use -path /readyz to
  also require the store to answer. Over TLS the certificate is not
  verified: the check talks to its own node over loopback.

FLAGS
`

const healthcheckTail = `
ENVIRONMENT
  DDN_ADDR, DDN_CERTIFICATE_CERT and every other DDN_* variable of the node,
  read as the node reads them (see ddn -help).

EXAMPLES
  ddn healthcheck
  ddn healthcheck -addr 127.0.0.1:9521 -path /readyz
  HEALTHCHECK CMD ["/usr/local/bin/ddn", "healthcheck"]   (Dockerfile)

EXIT STATUS
  0  the node answered 200
  1  no answer, or another status
  2  bad flags or configuration
`

// runHealthcheck probes the node's health endpoint once.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o healthcheckOptions
	fs := healthcheckFlags(&o)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, healthcheckUsage)
			fs.PrintDefaults()
			fmt.Fprint(stdout, healthcheckTail)
			return 0
		}
		fmt.Fprintf(stderr, "ddn healthcheck: %v (see ddn healthcheck -help)\n", err)
		return 2
	}
	addr, tlsOn := o.addr, false
	if addr == "" {
		cfg, err := config.Load(o.config)
		if err != nil {
			fmt.Fprintf(stderr, "ddn healthcheck: %v\n", err)
			return 2
		}
		addr, tlsOn = loopbackAddr(cfg.Addr), cfg.Certificate.Cert != ""
	}
	scheme := "http"
	client := &http.Client{Timeout: o.timeout}
	if tlsOn {
		scheme = "https"
		// Its own node over loopback: the certificate names the public host.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // #nosec G402
	}
	url := scheme + "://" + addr + o.path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ddn healthcheck: %v\n", err)
		return 2
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "ddn healthcheck: %s: %v\n", url, err)
		return 1
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "ddn healthcheck: %s: %s\n", url, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s\n", url)
	return 0
}

// healthcheckOptions are the flags of ddn healthcheck.
type healthcheckOptions struct {
	addr, config, path string
	timeout            time.Duration
}

// healthcheckFlags declares the flags of ddn healthcheck into o.
func healthcheckFlags(o *healthcheckOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("ddn healthcheck", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "`host:port` of the node (default: its Addr, wildcard host as 127.0.0.1)")
	fs.StringVar(&o.config, "config", "", "the node's JSON configuration `file`, to read Addr from")
	fs.StringVar(&o.path, "path", "/healthz", "endpoint `path` to probe (/healthz: alive; /readyz: store answers too)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second, "bound on the whole `request`")
	return fs
}

// loopbackAddr turns a listen address into one to dial on this host.
func loopbackAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
