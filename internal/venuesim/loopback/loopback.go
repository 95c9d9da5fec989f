// Package loopback serves a venue simulator's routes on a TCP listener
// (loopback in every use) until a context ends or Close is called: the
// listen, serve and shut-down steps every simulator shares, and DropAll,
// how a simulator drops its open sockets.
//
// It must not import a simulator, a connector, a store or the engine.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Server is one simulator's running HTTP server.
type Server struct {
	// Addr is the address it listens on (host:port, the port chosen when
	// asked for :0).
	Addr string

	srv   *http.Server
	stop  context.CancelFunc
	drop  func()
	done  chan struct{}
	close sync.Once
	err   error
}

// Serve listens on the first non-empty of addrs and serves h until ctx
// ends or Close. Request contexts end with ctx. drop, when set, runs before
// the shutdown (to close hijacked WebSockets, which Shutdown does not
// wait for). name prefixes the listen error.
func Serve(ctx context.Context, name string, h http.Handler, log *slog.Logger, drop func(), addrs ...string) (*Server, error) {
	addr := ""
	for _, a := range addrs {
		if a != "" {
			addr = a
			break
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen %s: %w", name, addr, err)
	}
	ctx, stop := context.WithCancel(ctx)
	s := &Server{Addr: ln.Addr().String(), stop: stop, drop: drop, done: make(chan struct{})}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error(name+" stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		s.shutdown()
	}()
	return s, nil
}

func (s *Server) shutdown() error {
	s.close.Do(func() {
		if s.drop != nil {
			s.drop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.err = s.srv.Shutdown(ctx)
	})
	return s.err
}

// Close stops serving and waits until the server has stopped. A nil
// Server (never started) closes at once.
func (s *Server) Close() error {
	if s == nil {
		return nil
	}
	s.stop()
	err := s.shutdown()
	<-s.done
	return err
}

// DropAll drops every connection of conns, a set guarded by mu, as a lost
// socket would: it takes the set under mu and calls drop on each after
// letting mu go, so that a drop may take mu to unregister itself.
func DropAll[C comparable](mu *sync.Mutex, conns map[C]struct{}, drop func(C)) {
	mu.Lock()
	cs := slices.Collect(maps.Keys(conns))
	mu.Unlock()
	for _, c := range cs {
		drop(c)
	}
}
