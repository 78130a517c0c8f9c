//go:build !race

package rawio

func ioRelease() {}

func ioAcquire() {}
