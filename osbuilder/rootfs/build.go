// Package rootfs builds a minimal riscv64 guest root filesystem with
// mmdebstrap and turns it into a Kata guest: the agent, its systemd units or
// the agent as init, the sandbox's kernel modules and a manifest.
package rootfs

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/elfcheck"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/output"
)

// MinFreeSpace is the free space a build needs: the staging tree, the
// packages in the cache and mmdebstrap's own temporary copy of them.
const MinFreeSpace = 1 << 30

// Options describe one root filesystem build.
type Options struct {
	Distro distro.Distro
	Suite  string
	Mirror string
	Kind   distro.Kind
	// Agent is the host path of the riscv64 kata-agent binary.
	Agent string
	// ModulesDir is the tree written by 'osbuilder kernel'; empty for none.
	ModulesDir string
	// CacheDir holds the package cache and fetched keyrings.
	CacheDir string
	Out      string
	Force    bool
	// Version is osbuilder's version, recorded in the manifest.
	Version string
	// Created is the manifest's creation time (SOURCE_DATE_EPOCH when set).
	Created time.Time
	// Mmdebstrap is the program to run; "mmdebstrap" when empty.
	Mmdebstrap string
	Log        *logrus.Entry
}

// Result summarises a finished build.
type Result struct {
	Size     int64
	Files    int
	Duration time.Duration
}

// Build makes the root filesystem in a staging directory beside o.Out and
// renames it to o.Out when every step succeeded.
func Build(ctx context.Context, o Options) (Result, error) {
	start := time.Now()
	if _, err := elfcheck.CheckRISCV64(o.Agent); err != nil {
		return Result{}, fmt.Errorf("invalid agent: %w", err)
	}
	if o.Kind == distro.Systemd {
		// The extract variant runs no guest programs; the systemd one runs
		// the packages' maintainer scripts.
		if err := CheckForeignExec(HostArch(), BinfmtDir); err != nil {
			return Result{}, err
		}
	}
	if err := output.CheckSpace(filepath.Dir(o.Out), MinFreeSpace); err != nil {
		return Result{}, err
	}
	// Staging first: an existing output fails before any download.
	stage, err := output.Begin(o.Out, true, o.Force)
	if err != nil {
		return Result{}, err
	}
	defer stage.Abort()
	keyring, err := distro.EnsureKeyring(ctx, o.Distro, distro.KeyringSource, HostArch(), o.CacheDir)
	if err != nil {
		return Result{}, err
	}
	if err := distro.CheckMirror(ctx, httpClient(), o.Mirror, o.Suite); err != nil {
		return Result{}, err
	}

	pkgCache := filepath.Join(o.CacheDir, "debs", o.Distro.Name+"-"+o.Suite+"-"+distro.Arch)
	if err := os.MkdirAll(pkgCache, 0o755); err != nil {
		return Result{}, fmt.Errorf("creating the package cache %s: %w", pkgCache, err)
	}
	plan := Plan{Distro: o.Distro, Suite: o.Suite, Mirror: o.Mirror, Kind: o.Kind, Keyring: keyring,
		CacheDir: pkgCache, Target: stage.Path}
	if err := o.runMmdebstrap(ctx, plan); err != nil {
		return Result{}, err
	}

	o.Log.WithField("kind", o.Kind).Info("installing the agent and guest configuration")
	if o.Kind == distro.AgentInit {
		err = customizeAgentInit(stage.Path, o.Agent)
	} else {
		err = customizeSystemd(stage.Path, o.Agent)
	}
	if err != nil {
		return Result{}, err
	}
	kernel, err := o.addModules(stage.Path)
	if err != nil {
		return Result{}, err
	}
	if err := o.writeManifest(stage.Path, kernel); err != nil {
		return Result{}, err
	}

	size, files, err := DiskUsage(stage.Path)
	if err != nil {
		return Result{}, err
	}
	if err := stage.Commit(); err != nil {
		return Result{}, err
	}
	return Result{Size: size, Files: files, Duration: time.Since(start)}, nil
}

// runMmdebstrap runs mmdebstrap and forwards its progress lines to the log.
func (o Options) runMmdebstrap(ctx context.Context, plan Plan) error {
	prog := o.Mmdebstrap
	if prog == "" {
		prog = "mmdebstrap"
	}
	args := plan.Args()
	o.Log.WithField("command", prog+" "+strings.Join(args, " ")).Debug("running mmdebstrap")
	o.Log.Infof("mmdebstrap: %s %s (%s) from %s", o.Distro.Name, o.Suite, o.Kind, o.Mirror)

	cmd := exec.CommandContext(ctx, prog, args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	var tail []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			tail = append(tail, line)
			if len(tail) > 20 {
				tail = tail[1:]
			}
			if msg, ok := strings.CutPrefix(line, "I: "); ok {
				o.Log.Info("mmdebstrap: " + msg)
			} else {
				o.Log.Debug("mmdebstrap: " + line)
			}
		}
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("mmdebstrap for %s %s failed: %w; its last lines:\n%s", o.Distro.Name, o.Suite, err, strings.Join(tail, "\n"))
	}
	return nil
}

// addModules installs the sandbox's kernel modules and returns the kernel
// version they belong to, or "" when o.ModulesDir is empty.
func (o Options) addModules(root string) (string, error) {
	if o.ModulesDir == "" {
		o.Log.Warn("no --kernel-modules given: the guest kernel must have virtio, vsock and the shared file systems built in")
		return "", nil
	}
	versions, err := os.ReadDir(filepath.Join(o.ModulesDir, "usr/lib/modules"))
	if err != nil || len(versions) != 1 {
		return "", fmt.Errorf("%s is not a modules tree from 'osbuilder kernel' (want usr/lib/modules/<one version>): %v", o.ModulesDir, err)
	}
	if err := installModules(root, o.ModulesDir); err != nil {
		return "", fmt.Errorf("installing kernel modules from %s: %w", o.ModulesDir, err)
	}
	return versions[0].Name(), nil
}

func (o Options) writeManifest(root, kernel string) error {
	var m Manifest
	m.Osbuilder.URL = "https://github.com/kata-riscv64/kata-riscv64"
	m.Osbuilder.Version = o.Version
	m.Description = fmt.Sprintf("kata-riscv64 %s guest, %s %s", o.Kind, o.Distro.Name, o.Suite)
	m.FileFormatVersion = "0.0.2"
	m.Architecture = distro.Arch
	m.BaseDistro.Name = o.Distro.Name
	m.BaseDistro.Version = o.Suite
	m.BaseDistro.Mirror = o.Mirror
	m.BaseDistro.Packages.Default = distro.Packages(o.Kind)
	m.Agent.Name = "kata-agent"
	m.Agent.Path = AgentPath
	m.Agent.IsInit = "no"
	if o.Kind == distro.AgentInit {
		m.Agent.IsInit = "yes"
	}
	sum, err := fileSHA256(o.Agent)
	if err != nil {
		return err
	}
	m.Agent.SHA256 = sum
	if kernel != "" {
		m.Kernel.Version = kernel
		conf, err := os.ReadFile(filepath.Join(root, ModulesLoadConf))
		if err != nil {
			return fmt.Errorf("the modules tree %s has no %s: %w", o.ModulesDir, ModulesLoadConf, err)
		}
		m.Kernel.Modules = modulesLoadList(conf)
	}

	data, err := m.Marshal(o.Created)
	if err != nil {
		return err
	}
	return writeFile(root, ManifestPath, data, 0o644)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DiskUsage returns the apparent size of the regular files under root and
// the number of entries.
func DiskUsage(root string) (int64, int, error) {
	var size int64
	var n int
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		n++
		if fi.Mode().IsRegular() {
			size += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("measuring %s: %w", root, err)
	}
	return size, n, nil
}
