//go:build linux

package websocket

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// poller watches idle connections with one epoll instance, so that an idle
// agent has no goroutine (and no 8 KiB stack) waiting on its socket: one
// goroutine waits for all of them, reads what is ready without blocking,
// answers pings itself, and hands whole messages to a worker goroutine
// that lives only while they are served.
//
// Each connection is registered one-shot: after an event it is not watched
// again until whoever handled the event re-arms it, so only one goroutine
// at a time reads a connection. The runtime's own netpoller keeps watching
// the same descriptor for the reads and writes that go through net.Conn.
type poller struct {
	epfd int
	// ep is epfd as a file of the runtime's netpoller: the loop waits for
	// it to become readable like any socket, parked, instead of blocking
	// a thread in epoll_wait (a thread in a system call keeps the
	// runtime's monitor waking every 20 µs to take its processor back).
	ep  *os.File
	log *zap.Logger

	mu      sync.Mutex
	conns   map[uint64]*conn
	nextID  uint64
	stopped bool
	done    chan struct{}
}

// readBufferBytes is the poller's read buffer: one read takes whatever a
// connection has, up to this much (more stays for the next event).
const readBufferBytes = 64 << 10

func newPoller(log *zap.Logger) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("epoll descriptor non-blocking: %w", err)
	}
	ep := os.NewFile(uintptr(epfd), "epoll")
	rc, err := ep.SyscallConn()
	if err != nil {
		_ = ep.Close()
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	p := &poller{epfd: epfd, ep: ep, log: log, conns: map[uint64]*conn{}, nextID: 1, done: make(chan struct{})}
	go p.run(rc)
	return p, nil
}

func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// watch adds c to the poller (not armed yet) and reports whether it could:
// only plain TCP connections have a descriptor to watch; others (TLS) are
// read by a goroutine of their own.
func (p *poller) watch(c *conn) bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	c.rc, c.pollID = rc, p.nextID
	p.nextID++
	p.conns[c.pollID] = c
	return true
}

// forget drops c once it has ended; its descriptor left the epoll set when
// it was closed.
func (p *poller) forget(c *conn) {
	p.mu.Lock()
	delete(p.conns, c.pollID)
	p.mu.Unlock()
}

// arm watches c for one more event; the caller holds c.mu. The descriptor is used through the
// connection (RawConn.Control), so it cannot be closed and reused by
// another connection meanwhile; a closed connection is not armed.
func (p *poller) arm(c *conn) error {
	op := unix.EPOLL_CTL_MOD
	if !c.armedOnce {
		op, c.armedOnce = unix.EPOLL_CTL_ADD, true
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setEventID(&ev, c.pollID)
	var ctlErr error
	if err := c.rc.Control(func(fd uintptr) { ctlErr = unix.EpollCtl(p.epfd, op, int(fd), &ev) }); err != nil {
		return err
	}
	return ctlErr
}

// readNow reads what c's socket holds without waiting: 0 and no error when
// it holds nothing (a spurious wake-up), io.EOF when the agent hung up.
func (p *poller) readNow(c *conn, buf []byte) (int, error) {
	var n int
	var rerr error
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), buf)
			if rerr != unix.EINTR {
				return true
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(rerr, unix.EAGAIN):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, errEOF
	}
	return n, nil
}

// writeNow writes p to c's socket without waiting and returns how much it
// took (the rest is left to a blocking write).
func (p *poller) writeNow(c *conn, b []byte) int {
	var n int
	_ = c.rc.Write(func(fd uintptr) bool {
		for {
			var err error
			n, err = unix.Write(int(fd), b)
			if err != unix.EINTR {
				if err != nil {
					n = 0
				}
				return true
			}
		}
	})
	return n
}

func (p *poller) run(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, readBufferBytes)
	for {
		var n int
		var werr error
		// The callback returns false when nothing is ready: the goroutine
		// then parks until the runtime sees epfd readable.
		err := rc.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			return n > 0 || (werr != nil && werr != unix.EINTR)
		})
		if err != nil {
			p.mu.Lock()
			stopped := p.stopped
			p.mu.Unlock()
			if !stopped {
				p.log.Error("waiting on the epoll descriptor failed: connections are no longer read", zap.Error(err))
			}
			return
		}
		if werr != nil && werr != unix.EINTR {
			p.log.Error("epoll_wait failed: connections are no longer read", zap.Error(werr))
			return
		}
		for i := range events[:n] {
			p.mu.Lock()
			c := p.conns[eventID(&events[i])]
			p.mu.Unlock()
			if c != nil {
				c.readable(buf)
			}
		}
	}
}

// stop ends the loop once no connection is left (the handler drained).
func (p *poller) stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	p.mu.Unlock()
	if err := p.ep.Close(); err != nil {
		p.log.Error("close the epoll descriptor", zap.Error(err))
	}
	<-p.done
}

// count is the number of connections watched.
func (p *poller) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}
