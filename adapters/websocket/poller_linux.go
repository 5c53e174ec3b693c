//go:build linux

package websocket

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

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

// arm watches c for one more event; the caller holds c.mu. The
// descriptor is used through the connection (RawConn.Control), so it
// cannot be closed and reused by another connection meanwhile; a closed
// connection is not armed.
func (p *poller) arm(c *conn) error {
	s := p.op()
	defer sysops.Put(s)
	s.ctlOp = unix.EPOLL_CTL_MOD
	if !c.armedOnce {
		s.ctlOp, c.armedOnce = unix.EPOLL_CTL_ADD, true
	}
	s.ev = unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setEventID(&s.ev, c.pollID)
	if err := c.rc.Control(s.ctl); err != nil {
		return err
	}
	return s.err
}

// readNow reads what c's socket holds without waiting: 0 and no error when
// it holds nothing (a spurious wake-up), io.EOF when the agent hung up.
func (p *poller) readNow(c *conn, buf []byte) (int, error) {
	s := p.op()
	defer sysops.Put(s)
	s.buf = buf
	err := c.rc.Read(s.read)
	s.buf = nil
	switch {
	case err != nil:
		return 0, err
	case s.err == unix.EAGAIN:
		return 0, nil
	case s.err != nil:
		return 0, s.err
	case s.n == 0:
		return 0, io.EOF
	}
	return s.n, nil
}

// writeNow writes b to c's socket without waiting and returns how much it
// took (the rest is left to a blocking write).
func (p *poller) writeNow(c *conn, b []byte) int {
	s := p.op()
	defer sysops.Put(s)
	s.buf = b
	err := c.rc.Write(s.write)
	s.buf = nil
	if err != nil || s.err != nil {
		return 0
	}
	return s.n
}

// sysop is one system call on a connection's descriptor with its
// arguments and results in fields, so that the callbacks RawConn takes are
// made once per sysop instead of a closure (three allocations) per call.
type sysop struct {
	epfd, ctlOp int
	ev          unix.EpollEvent
	buf         []byte
	n           int
	err         error
	read, write func(uintptr) bool
	ctl         func(uintptr)
}

var sysops sync.Pool

func (p *poller) op() *sysop {
	s, _ := sysops.Get().(*sysop)
	if s == nil {
		s = &sysop{}
		s.read, s.write, s.ctl = s.doRead, s.doWrite, s.doCtl
	}
	s.epfd, s.n, s.err = p.epfd, 0, nil
	return s
}

func (s *sysop) doRead(fd uintptr) bool {
	for {
		if s.n, s.err = rawIO(unix.SYS_READ, fd, s.buf); s.err != unix.EINTR {
			return true
		}
	}
}

func (s *sysop) doWrite(fd uintptr) bool {
	for {
		if s.n, s.err = rawIO(unix.SYS_WRITE, fd, s.buf); s.err != unix.EINTR {
			return true
		}
	}
}

func (s *sysop) doCtl(fd uintptr) { s.err = unix.EpollCtl(s.epfd, s.ctlOp, int(fd), &s.ev) }

func (p *poller) run(rc syscall.RawConn) {
	defer close(p.done)
	events := make([]unix.EpollEvent, 256)
	buf := make([]byte, readBufferBytes)
	var n int
	var werr error
	// wait returns false when nothing is ready: the goroutine then parks
	// until the runtime sees epfd readable.
	wait := func(fd uintptr) bool {
		n, werr = pollNow(fd, events)
		return n > 0 || (werr != nil && werr != unix.EINTR)
	}
	for {
		err := rc.Read(wait)
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

// The poller's system calls never block (the sockets and epfd are
// non-blocking, epoll_wait has a zero timeout), so they are made raw: a
// system call through the runtime's entry wakes its monitor thread from
// its deep sleep whenever the node was idle, which at a ping every
// 500 µs kept the monitor polling (a quarter of an idle node's samples).

// rawIO reads or writes p on fd (trap SYS_READ or SYS_WRITE).
func rawIO(trap, fd uintptr, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	n, _, errno := unix.RawSyscall(trap, fd, uintptr(ptr), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// pollNow is epoll_wait with a zero timeout (epoll_pwait: arm64 has no
// epoll_wait).
func pollNow(epfd uintptr, events []unix.EpollEvent) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, epfd, uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
