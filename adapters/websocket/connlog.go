package websocket

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// connLog logs for one connection without a logger of its own: zap's With
// clones an encoder and its 1 KiB buffer per call, which a connection held
// for weeks would keep for two lines a day. The connection's fields are
// added to each line instead, and only when the level is enabled.
type connLog struct {
	base             *zap.Logger
	connID, clientIP string
	// machine is set by the connection's reading goroutine once it is
	// online, and read only by that goroutine (log, not logBase).
	machine string
}

// log writes a line from the reading goroutine: connection and machine.
func (l *connLog) log(lvl zapcore.Level, msg string, fields ...zap.Field) {
	ce := l.base.Check(lvl, msg)
	if ce == nil {
		return
	}
	head := []zap.Field{zap.String("conn_id", l.connID), zap.String("client_ip", l.clientIP)}
	if l.machine != "" {
		head = append(head, zap.String("machine", l.machine))
	}
	ce.Write(append(head, fields...)...)
}

// logBase writes a line from any goroutine (timers, ping callbacks): the
// connection's fields only.
func (l *connLog) logBase(lvl zapcore.Level, msg string, fields ...zap.Field) {
	ce := l.base.Check(lvl, msg)
	if ce == nil {
		return
	}
	ce.Write(append([]zap.Field{zap.String("conn_id", l.connID), zap.String("client_ip", l.clientIP)}, fields...)...)
}

// machineFields is the machine's field once online, for a line logged by
// the reading goroutine through logBase.
func (l *connLog) machineFields() []zap.Field {
	if l.machine == "" {
		return nil
	}
	return []zap.Field{zap.String("machine", l.machine)}
}
