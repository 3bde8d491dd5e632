package sdk

import (
	"runtime"

	"github.com/wasmgate/wasmgate/abi"
)

// wasmgate extensions, imported from module "wasmgate". A plugin that uses
// them runs only in wasmgate; one that does not stays a portable
// Proxy-Wasm plugin. The same values are readable as properties
// (wasmgate.stage_variables.<name>, wasmgate.route.params.<name>).

func extString(fn string, call func(name string, retData, retSize *uint32) uint32, name string) (string, error) {
	st := call(name, &retPtr, &retSize)
	runtime.KeepAlive(name)
	if err := statusErr(fn, st); err != nil {
		return "", err
	}
	b, err := takeResult(retPtr, retSize)
	if err != nil {
		return "", err
	}
	return bytesToString(b), nil
}

// GetStageVariable returns a stage variable of the stage serving the
// current request, or ErrNotFound.
func GetStageVariable(name string) (string, error) {
	return extString(abi.ExtModule+"."+abi.ExtGetStageVariable, wasmgateGetStageVariable, name)
}

// GetRouteParam returns a path parameter of the matched route ({id},
// {proxy+}), or ErrNotFound.
func GetRouteParam(name string) (string, error) {
	return extString(abi.ExtModule+"."+abi.ExtGetRouteParam, wasmgateGetRouteParam, name)
}

// GetStageVariables returns every stage variable of the stage serving the
// current request, sorted by name (the wasmgate.stage_variables property).
func GetStageVariables() ([][2]string, error) {
	return GetPropertyMap("wasmgate", "stage_variables")
}

// GetRouteParams returns every path parameter of the matched route, in
// template order (the wasmgate.route.params property).
func GetRouteParams() ([][2]string, error) {
	return GetPropertyMap("wasmgate", "route", "params")
}
