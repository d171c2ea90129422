package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// guestHooks returns the OCI hooks found in the guest directory dir, which
// has one subdirectory per stage (prestart, poststart, poststop) of
// executables that run in lexical order. A missing directory gives none.
func guestHooks(dir string) (*specs.Hooks, error) {
	hooks := &specs.Hooks{}
	stages := []struct {
		name string
		list *[]specs.Hook
	}{
		{"prestart", &hooks.Prestart}, //nolint:staticcheck // Prestart is deprecated in OCI, but the hook directory layout keeps it.
		{"poststart", &hooks.Poststart},
		{"poststop", &hooks.Poststop},
	}
	found := false
	for _, stage := range stages {
		entries, err := os.ReadDir(filepath.Join(dir, stage.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading guest hooks in %s: %w", dir, err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || info.Mode()&0o111 == 0 {
				continue
			}
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, name := range names {
			path := filepath.Join(dir, stage.name, name)
			*stage.list = append(*stage.list, specs.Hook{Path: path, Args: []string{path, stage.name}})
			found = true
		}
	}
	if !found {
		return nil, nil
	}
	return hooks, nil
}
