package websocket

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
)

// Buffer sizes of an agent connection once it is upgraded. net/http hands a
// hijacked connection 4 KiB for reading and 4 KiB for writing, which an idle
// connection keeps for its whole life; an agent's messages are a few hundred
// bytes (a larger frame is read and written past the buffer, not in pieces),
// so smaller buffers cut the memory of 20,000 idle connections by ~120 MiB
// at no cost in system calls.
const (
	readBufferSize  = 1024
	writeBufferSize = 512
)

// smallBuffers is the ResponseWriter Accept hijacks: it hands the library
// the connection with buffers of readBufferSize and writeBufferSize.
type smallBuffers struct {
	http.ResponseWriter
}

// Hijack implements http.Hijacker: bytes net/http read ahead stay first in
// the new read buffer; with more of them than it holds, net/http's own
// buffers are handed over as they are.
func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	ahead := brw.Reader.Buffered()
	if ahead > readBufferSize || brw.Writer.Buffered() > 0 {
		return conn, brw, nil
	}
	early, err := brw.Reader.Peek(ahead)
	if err != nil {
		return nil, nil, fmt.Errorf("read ahead of the upgrade: %w", err)
	}
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), readBufferSize)
	if ahead > 0 {
		if _, err := r.Peek(ahead); err != nil {
			return nil, nil, fmt.Errorf("read ahead of the upgrade: %w", err)
		}
	}
	return conn, bufio.NewReadWriter(r, bufio.NewWriterSize(conn, writeBufferSize)), nil
}

// Unwrap lets http.ResponseController and the library see the writer
// underneath.
func (s smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }
