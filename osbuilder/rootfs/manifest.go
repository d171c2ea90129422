package rootfs

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// ManifestPath is the guest's record of what it was built from, at the
// path upstream osbuilder uses.
const ManifestPath = "/var/lib/osbuilder/osbuilder.yaml"

// Manifest is the content of osbuilder.yaml. Its field names follow
// upstream osbuilder's file so tools reading either work on both.
type Manifest struct {
	Osbuilder struct {
		URL     string `yaml:"url"`
		Version string `yaml:"version"`
	} `yaml:"osbuilder"`
	CreationTime      string `yaml:"rootfs-creation-time"`
	Description       string `yaml:"description"`
	FileFormatVersion string `yaml:"file-format-version"`
	Architecture      string `yaml:"architecture"`
	BaseDistro        struct {
		Name     string `yaml:"name"`
		Version  string `yaml:"version"`
		Mirror   string `yaml:"mirror"`
		Packages struct {
			Default []string `yaml:"default"`
		} `yaml:"packages"`
	} `yaml:"base-distro"`
	Agent struct {
		Name   string `yaml:"name"`
		Path   string `yaml:"path"`
		SHA256 string `yaml:"sha256"`
		// IsInit is "yes" or "no", as in upstream's file.
		IsInit string `yaml:"agent-is-init-daemon"`
	} `yaml:"agent"`
	Kernel struct {
		Version string   `yaml:"version,omitempty"`
		Modules []string `yaml:"modules,omitempty"`
	} `yaml:"kernel-modules,omitempty"`
}

// Marshal renders the manifest; created is formatted in UTC so the bytes
// depend only on the inputs.
func (m *Manifest) Marshal(created time.Time) ([]byte, error) {
	m.CreationTime = created.UTC().Format(time.RFC3339)
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", ManifestPath, err)
	}
	return append([]byte("---\n"), out...), nil
}
