//go:build !race

package transport

func ioRelease() {}

func ioAcquire() {}
