//go:build !amd64

package kernels

const haveAsm = false

func asmKernels(lv Level, ks *kernelSet) {}
