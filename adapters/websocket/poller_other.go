//go:build !linux

package websocket

import (
	"errors"
	"io"

	"go.uber.org/zap"
)

// poller is Linux's epoll loop; elsewhere every connection is read by a
// goroutine of its own (see conn.readLoop).
type poller struct{}

func newPoller(*zap.Logger) (*poller, error) { return nil, errors.New("epoll is Linux only") }

func (p *poller) watch(*conn) bool                   { return false }
func (p *poller) forget(*conn)                       {}
func (p *poller) arm(*conn) error                    { return nil }
func (p *poller) readNow(*conn, []byte) (int, error) { return 0, io.EOF }
func (p *poller) writeNow(*conn, []byte) int         { return 0 }
func (p *poller) stop()                              {}
func (p *poller) count() int                         { return 0 }
