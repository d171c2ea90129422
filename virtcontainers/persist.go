package virtcontainers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// persistFile is the name of a sandbox's state file inside its SandboxDir.
const persistFile = "persist.json"

// SandboxState is what a sandbox writes to disk so that a later process,
// such as `containerd-shim-kata-v2 delete` after a shim crash, can find its
// VM and undo what the sandbox set up on the host.
type SandboxState struct {
	ID             string         `json:"id"`
	HypervisorType HypervisorType `json:"hypervisor_type"`
	// HypervisorPIDs are the VMM and its helpers (virtiofsd), VMM first.
	HypervisorPIDs []int `json:"hypervisor_pids"`
	// Mounts are host mount points the sandbox created, in creation order.
	Mounts []string `json:"mounts"`
	// Dirs are host directories the sandbox created and removes at the end.
	Dirs []string `json:"dirs"`
}

// saveState writes st atomically: a crash never leaves a torn file.
func saveState(dir string, st *SandboxState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state of sandbox %s: %w", st.ID, err)
	}

	tmp, err := os.CreateTemp(dir, persistFile+".*")
	if err != nil {
		return fmt.Errorf("writing state of sandbox %s: %w", st.ID, err)
	}
	defer os.Remove(tmp.Name())

	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing state of sandbox %s to %s: %w", st.ID, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing state of sandbox %s to %s: %w", st.ID, tmp.Name(), err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, persistFile))
}

// LoadState reads the state a sandbox saved in dir. It returns an error
// wrapping os.ErrNotExist when the sandbox left none.
func LoadState(dir string) (*SandboxState, error) {
	data, err := os.ReadFile(filepath.Join(dir, persistFile))
	if err != nil {
		return nil, fmt.Errorf("reading sandbox state: %w", err)
	}

	var st SandboxState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decoding sandbox state %s: %w", filepath.Join(dir, persistFile), err)
	}
	if st.ID == "" {
		return nil, errors.New("decoding sandbox state " + filepath.Join(dir, persistFile) + ": no sandbox id")
	}
	return &st, nil
}
