package websocket

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Buffer sizes of an upgraded connection. coder/websocket keeps the
// buffers the hijack returns for the connection's lifetime; net/http's are
// 4 KiB each. Agents' frames are a few hundred bytes (a report rarely
// more than 1 KiB) and answers under 256 bytes; a larger frame is read or
// written past the buffer, directly, so small buffers cost no copies.
const (
	readBufferBytes  = 1024
	writeBufferBytes = 512
)

// compactHijacker gives coder/websocket a hijacked connection with small
// buffers of its own instead of net/http's, which are then freed with the
// rest of net/http's connection state when ServeHTTP returns.
type compactHijacker struct{ http.ResponseWriter }

// Hijack takes over the connection from net/http. Bytes the client sent
// after its handshake, already in net/http's read buffer, are moved into
// the new buffer so that they are read first.
func (w compactHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("flush the handshake answer: %w", err)
	}
	n := brw.Reader.Buffered()
	if n == 0 {
		return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, readBufferBytes), bufio.NewWriterSize(nc, writeBufferBytes)), nil
	}
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc), max(readBufferBytes, n))
	// Pull the early bytes into the buffer now: the library replaces the
	// reader's source with the bare connection after it looks at what is
	// buffered.
	if _, err := br.Peek(n); err != nil {
		_ = nc.Close()
		return nil, nil, fmt.Errorf("carry %d early bytes: %w", n, err)
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriterSize(nc, writeBufferBytes)), nil
}
