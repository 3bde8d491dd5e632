// Package testplugins holds small plugins, one per directory, that the SDK
// tests (sdk/go/sdk_test.go) build with sdktest.Build and run in the real
// host. Each is a package main built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared
package testplugins
