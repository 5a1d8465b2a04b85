//go:build linux

package chaintest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill chopsticks if the test process dies first, so a
// crashed or killed test binary leaves no node running.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
