package sdk

import (
	"fmt"
	"time"

	"github.com/wasmgate/wasmgate/abi"
)

// Logging goes to the host's log, tagged with the plugin's name. The
// host's level (proxy_get_log_level) is cached and refreshed at each
// start, configure and tick, so a disabled level costs one comparison and
// the f variants skip formatting entirely.

// LogLevel is a Proxy-Wasm log level.
type LogLevel = abi.LogLevel

// Log levels, for LogEnabled.
const (
	LevelTrace    LogLevel = abi.LogTrace
	LevelDebug    LogLevel = abi.LogDebug
	LevelInfo     LogLevel = abi.LogInfo
	LevelWarn     LogLevel = abi.LogWarn
	LevelError    LogLevel = abi.LogError
	LevelCritical LogLevel = abi.LogCritical
)

var (
	logLevel      abi.LogLevel
	logLevelKnown bool
)

func refreshLogLevel() {
	if proxyGetLogLevel(&retExtra) == uint32(abi.StatusOK) {
		logLevel, logLevelKnown = abi.LogLevel(retExtra), true
	}
}

// LogEnabled reports whether the host records messages of level; use it to
// skip building an expensive message.
func LogEnabled(level LogLevel) bool {
	if !logLevelKnown {
		refreshLogLevel()
	}
	return level >= logLevel
}

func logAt(level abi.LogLevel, msg string) {
	if LogEnabled(level) {
		proxyLog(uint32(level), msg)
	}
}

func logfAt(level abi.LogLevel, format string, args ...any) {
	if LogEnabled(level) {
		proxyLog(uint32(level), fmt.Sprintf(format, args...))
	}
}

// LogTrace logs at trace level.
func LogTrace(msg string) { logAt(abi.LogTrace, msg) }

// LogDebug logs at debug level.
func LogDebug(msg string) { logAt(abi.LogDebug, msg) }

// LogInfo logs at info level.
func LogInfo(msg string) { logAt(abi.LogInfo, msg) }

// LogWarn logs at warn level.
func LogWarn(msg string) { logAt(abi.LogWarn, msg) }

// LogError logs at error level.
func LogError(msg string) { logAt(abi.LogError, msg) }

// LogCritical logs at critical level.
func LogCritical(msg string) { logAt(abi.LogCritical, msg) }

// LogTracef formats and logs at trace level.
func LogTracef(format string, args ...any) { logfAt(abi.LogTrace, format, args...) }

// LogDebugf formats and logs at debug level.
func LogDebugf(format string, args ...any) { logfAt(abi.LogDebug, format, args...) }

// LogInfof formats and logs at info level.
func LogInfof(format string, args ...any) { logfAt(abi.LogInfo, format, args...) }

// LogWarnf formats and logs at warn level.
func LogWarnf(format string, args ...any) { logfAt(abi.LogWarn, format, args...) }

// LogErrorf formats and logs at error level.
func LogErrorf(format string, args ...any) { logfAt(abi.LogError, format, args...) }

// LogCriticalf formats and logs at critical level.
func LogCriticalf(format string, args ...any) { logfAt(abi.LogCritical, format, args...) }

// SetTickPeriod makes the host call the root context's OnTick every
// period (rounded to milliseconds, at least 1ms); 0 stops the ticks.
func SetTickPeriod(period time.Duration) error {
	var ms uint32
	if period > 0 {
		ms = clampU32(int((period + time.Millisecond - 1) / time.Millisecond))
	}
	return statusErr(abi.FuncSetTickPeriod, proxySetTickPeriodMilliseconds(ms))
}
