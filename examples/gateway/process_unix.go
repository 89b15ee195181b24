//go:build unix

package gateway

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts nginx and its workers in a process group of their
// own, so that killGroup reaches exactly the processes Start created.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminate(cmd *exec.Cmd) error { return cmd.Process.Signal(syscall.SIGTERM) }

func reload(cmd *exec.Cmd) error { return cmd.Process.Signal(syscall.SIGHUP) }

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
