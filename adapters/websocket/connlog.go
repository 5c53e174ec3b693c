package websocket

import (
	"sync/atomic"

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
	// machine is set once the connection is online.
	machine atomic.Pointer[string]
}

// setMachine names the machine in the connection's later lines.
func (l *connLog) setMachine(m string) { l.machine.Store(&m) }

// log writes a line with the connection's fields and, once online, the machine.
func (l *connLog) log(lvl zapcore.Level, msg string, fields ...zap.Field) {
	ce := l.base.Check(lvl, msg)
	if ce == nil {
		return
	}
	head := []zap.Field{zap.String("conn_id", l.connID), zap.String("client_ip", l.clientIP)}
	if m := l.machine.Load(); m != nil {
		head = append(head, zap.String("machine", *m))
	}
	ce.Write(append(head, fields...)...)
}

// logBase writes a line with the connection's fields only.
func (l *connLog) logBase(lvl zapcore.Level, msg string, fields ...zap.Field) {
	ce := l.base.Check(lvl, msg)
	if ce == nil {
		return
	}
	ce.Write(append([]zap.Field{zap.String("conn_id", l.connID), zap.String("client_ip", l.clientIP)}, fields...)...)
}

// machineFields is the machine's field once online, for a line logged
// through logBase.
func (l *connLog) machineFields() []zap.Field {
	if m := l.machine.Load(); m != nil {
		return []zap.Field{zap.String("machine", *m)}
	}
	return nil
}
