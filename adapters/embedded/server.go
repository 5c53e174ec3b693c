// Package embedded runs a Mongo-compatible store in-process (FerretDB v1 on
// SQLite), so a node starts with no database server and the Mongo adapter is
// exercised over the real wire protocol in every test run.
package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
)

// Options configure the embedded store.
type Options struct {
	// Dir holds the SQLite files; created if missing.
	Dir string
	// Addr is the loopback address to serve the Mongo wire protocol on;
	// default 127.0.0.1:0 (any free port).
	Addr string
	// Logger receives FerretDB's errors; nil discards them.
	Logger *zap.Logger
}

// Server is a running embedded store.
type Server struct {
	uri    string
	dir    string
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// indexed is closed when the _id indexer has stopped (see idindex.go).
	indexed chan struct{}
	once    sync.Once
}

// Start serves the store and returns once it accepts connections.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store dir %q: %w", o.Dir, err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("embedded store dir: %w", err)
	}
	// FerretDB reports every refused command at WARN; only its errors matter here.
	logger := slog.New(errorsOnly(zapslog.NewHandler(o.Logger.Core(), zapslog.WithName("ferretdb"))))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: o.Addr},
		Handler:   "sqlite",
		SQLiteURL: (&url.URL{Scheme: "file", Path: dir + "/"}).String(),
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{dir: dir, log: o.Logger, cancel: cancel, done: make(chan struct{}), indexed: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = f.Run(runCtx)
	}()
	// MongoDBURI blocks until Run has bound the listener.
	uriReady := make(chan string, 1)
	go func() { uriReady <- f.MongoDBURI() }()
	select {
	case s.uri = <-uriReady:
	case <-s.done:
		close(s.indexed)
		return nil, fmt.Errorf("embedded store on %s stopped while starting", o.Addr)
	case <-ctx.Done():
		close(s.indexed)
		_ = s.Close()
		return nil, fmt.Errorf("embedded store: %w", ctx.Err())
	}
	if err := waitAccepting(ctx, s.uri); err != nil {
		close(s.indexed)
		_ = s.Close()
		return nil, err
	}
	s.startIndexer(runCtx)
	return s, nil
}

// waitAccepting dials until the listener answers.
func waitAccepting(ctx context.Context, uri string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("embedded store uri %q: %w", uri, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded store not accepting on %s: %w", u.Host, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// URI is the mongodb:// address the Mongo adapter connects to.
func (s *Server) URI() string { return s.uri }

// Close stops the store and waits until its files are closed; safe to call twice.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.indexed
		<-s.done
	})
	return nil
}
