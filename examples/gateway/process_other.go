//go:build !unix

package gateway

import (
	"errors"
	"os/exec"
)

func setProcessGroup(*exec.Cmd) {}

func terminate(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func reload(*exec.Cmd) error {
	return errors.New("gateway: reloading nginx needs a Unix system")
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
