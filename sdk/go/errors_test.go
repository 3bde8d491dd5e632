//go:build !wasip1

package sdk

import (
	"errors"
	"testing"

	"github.com/wasmgate/wasmgate/abi"
)

// TestStatusErrorTables: the errors the inlined host call wrappers pick
// from a table are the ones statusError gives, and a status past the
// table reads as its last entry.
func TestStatusErrorTables(t *testing.T) {
	for st := uint32(1); st <= lastStatus; st++ {
		got, want := replaceHeaderErrors[min(st, lastStatus)], statusError(abi.FuncReplaceHeaderMapValue, abi.Status(st))
		if got.Error() != want.Error() || !errors.Is(got, abi.Status(st)) {
			t.Errorf("status %d: table has %v, statusError gives %v", st, got, want)
		}
	}
	if got := replaceHeaderErrors[min(uint32(99), lastStatus)]; !errors.Is(got, abi.Status(lastStatus)) {
		t.Errorf("status 99: %v", got)
	}
	if replaceHeaderErrors[abi.StatusOK] != nil {
		t.Error("the OK entry is an error")
	}
}
