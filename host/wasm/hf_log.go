package wasm

import (
	"context"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/abi"
)

// Logging and clocks.
// Spec: https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#logging

func init() {
	register(hostFuncs, abi.FuncLog, hostLog)
	register(hostFuncs, abi.FuncGetLogLevel, hostGetLogLevel)
	register(hostFuncs, abi.FuncGetCurrentTimeNanos, hostGetCurrentTimeNanos)
}

// hostLog is proxy_log(level, message_ptr, message_size) → status.
// The line reaches EngineConfig.Log tagged with the plugin's name and
// digest, and the stream's host when it implements StreamLogHost. BAD_ARGUMENT for an unknown level, INVALID_MEMORY_ACCESS when the
// message is outside guest memory.
func hostLog(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	level := abi.LogLevel(uint32(stack[0]))
	if !level.Valid() {
		status(stack, abi.StatusBadArgument)
		return
	}
	msg, ok := in.read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	if level >= in.p.e.cfg.LogLevel || level >= abi.LogWarn {
		m := string(msg)
		in.log(level, m)
		if in.cur != nil {
			if lh, ok := in.cur.host.(StreamLogHost); ok {
				lh.StreamLog(level, m)
			}
		}
	}
	status(stack, abi.StatusOK)
}

// StreamLogHost may be implemented by a StreamHost to receive the log
// lines its plugin writes while handling that stream (besides
// EngineConfig.Log, which gets every line): the gateway tags them with the
// request id in its execution logs. StreamLog is called while the guest
// runs: it must not block.
type StreamLogHost interface {
	StreamLog(level abi.LogLevel, msg string)
}

// hostGetLogLevel is proxy_get_log_level(return_level_ptr) → status:
//
//	return_level_ptr → [u32 level]
func hostGetLogLevel(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	if !in.writeU32(uint32(stack[0]), uint32(in.p.e.cfg.LogLevel)) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, abi.StatusOK)
}

// hostGetCurrentTimeNanos is proxy_get_current_time_nanoseconds(return_ptr)
// → status, writing the real wall clock:
//
//	return_ptr → [u64 ns since the Unix epoch]
func hostGetCurrentTimeNanos(ctx context.Context, _ api.Module, stack []uint64) {
	in := instanceOf(ctx)
	if !in.writeU64(uint32(stack[0]), uint64(time.Now().UnixNano())) {
		status(stack, abi.StatusInvalidMemoryAccess)
		return
	}
	status(stack, abi.StatusOK)
}
