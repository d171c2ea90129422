package rootfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
)

// ModulesLoadConf is the modules-load.d file listing the kernel modules a
// sandbox needs. systemd-modules-load reads it in systemd guests. In
// agent-init guests the agent loads the modules it names when a request
// first needs them.
const ModulesLoadConf = "/etc/modules-load.d/kata.conf"

// customizeSystemd turns an mmdebstrap tree into a systemd guest: the agent
// and its units, kata-containers.target as the default target, masked units,
// an empty resolv.conf and machine-id.
func customizeSystemd(root, agent string) error {
	if err := installAgent(root, agent); err != nil {
		return err
	}
	units := map[string]string{"kata-agent.service": AgentService, KataTarget: ContainersTarget}
	for name, content := range units {
		if err := writeFile(root, filepath.Join(UnitDir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}

	etcUnits := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(etcUnits, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", etcUnits, err)
	}
	if err := replaceSymlink(filepath.Join(UnitDir, KataTarget), filepath.Join(etcUnits, "default.target")); err != nil {
		return err
	}
	for _, unit := range MaskedUnits {
		if err := replaceSymlink("/dev/null", filepath.Join(etcUnits, unit)); err != nil {
			return err
		}
	}

	// An empty machine-id makes systemd use a transient id each boot
	// without running first-boot logic; every sandbox is a first boot.
	if err := writeFile(root, "/etc/machine-id", nil, 0o444); err != nil {
		return err
	}
	return emptyResolvConf(root)
}

// customizeAgentInit turns an extracted package tree into a guest whose
// init is the agent: the merged-/usr links that maintainer scripts would
// have made, the mount points the agent uses, and no documentation.
func customizeAgentInit(root, agent string) error {
	for _, link := range []struct{ name, target string }{
		{"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"},
	} {
		if _, err := os.Lstat(filepath.Join(root, link.name)); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Join(root, link.target), 0o755); err != nil {
			return fmt.Errorf("creating /%s: %w", link.target, err)
		}
		if err := os.Symlink(link.target, filepath.Join(root, link.name)); err != nil {
			return fmt.Errorf("linking /%s: %w", link.name, err)
		}
	}
	for _, dir := range []string{"proc", "sys", "dev", "run", "tmp", "root", "etc", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			return fmt.Errorf("creating /%s: %w", dir, err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), os.ModeSticky|0o777); err != nil {
		return fmt.Errorf("chmod /tmp: %w", err)
	}

	// Without maintainer scripts nothing honours dpkg's path-exclude
	// patterns, and apt's and dpkg's state describe nothing usable.
	for _, dir := range []string{
		"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
		"usr/lib/" + distro.Arch + "-linux-gnu/gconv", "var/cache/apt", "var/lib/apt", "var/lib/dpkg", "etc/apt",
	} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			return fmt.Errorf("removing /%s: %w", dir, err)
		}
	}
	if err := removeStaticLibraries(root); err != nil {
		return err
	}

	if err := installAgent(root, agent); err != nil {
		return err
	}
	if err := replaceSymlink("../bin/kata-agent", filepath.Join(root, "usr/sbin/init")); err != nil {
		return err
	}
	return emptyResolvConf(root)
}

func removeStaticLibraries(root string) error {
	dir := filepath.Join(root, "usr/lib", distro.Arch+"-linux-gnu")
	matches, err := filepath.Glob(filepath.Join(dir, "*.a"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			return fmt.Errorf("removing %s: %w", m, err)
		}
	}
	return nil
}

// installModules copies the tree made by 'osbuilder kernel' (usr/lib/modules
// and etc/modules-load.d) into root.
func installModules(root, modulesDir string) error {
	return filepath.Walk(modulesDir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(modulesDir, path)
		dst := filepath.Join(root, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(dst, 0o755)
		case fi.Mode().IsRegular():
			return copyFile(path, dst, fi.Mode().Perm())
		default:
			return fmt.Errorf("unexpected file type %s in the modules tree %s", fi.Mode().Type(), path)
		}
	})
}

func installAgent(root, agent string) error {
	return copyFile(agent, filepath.Join(root, AgentPath), 0o755)
}

func emptyResolvConf(root string) error {
	// Debian links resolv.conf to systemd-resolved's file in some setups;
	// the runtime bind-mounts its own, so the guest keeps an empty file.
	os.Remove(filepath.Join(root, "etc/resolv.conf"))
	return writeFile(root, "/etc/resolv.conf", nil, 0o644)
}

func writeFile(root, path string, data []byte, mode os.FileMode) error {
	full := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(full, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Chmod(full, mode)
}

func replaceSymlink(target, link string) error {
	if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("replacing %s: %w", link, err)
	}
	if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("linking %s to %s: %w", link, target, err)
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// modulesLoadList returns the module names of a modules-load.d file.
func modulesLoadList(data []byte) []string {
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		names = append(names, line)
	}
	return names
}
