package main

import (
	"fmt"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"ddn/config"
)

// newLogger logs at level (the original's logrus names are accepted:
// trace logs as debug, warning as warn) and writes JSON lines to stderr, or to a size-rotated file when
// LogFile is set (lumberjack: 100 MB per file, 10 backups, 30 days).
func newLogger(level, file string, stderr io.Writer) (*zap.Logger, func(), error) {
	name, ok := config.NormalizeLogLevel(level)
	if !ok {
		return nil, nil, fmt.Errorf("log level %q is not one of trace, debug, info, warn, warning, error, fatal, panic", level)
	}
	lvl, err := zapcore.ParseLevel(name)
	if err != nil {
		return nil, nil, fmt.Errorf("log level %q: %w", level, err)
	}
	var sink zapcore.WriteSyncer = zapcore.AddSync(stderr)
	closeSink := func() {}
	if file != "" {
		rot := &lumberjack.Logger{Filename: file, MaxSize: 100, MaxBackups: 10, MaxAge: 30, Compress: true}
		sink, closeSink = zapcore.AddSync(rot), func() { _ = rot.Close() }
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), sink, lvl)
	log := zap.New(core, zap.AddCaller())
	return log, func() { _ = log.Sync(); closeSink() }, nil
}
