//go:build !linux

package chaintest

import "os/exec"

func setProcAttr(cmd *exec.Cmd) {}
