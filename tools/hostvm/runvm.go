package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
)

// vmOptions are the settings of one boot that the user chooses.
type vmOptions struct {
	QEMU     string
	CPUFlags map[string]string
	SMP      int
	Mem      string
	AIA      bool
	Net      string
	Timeout  time.Duration
	Env      map[string]string
	ShareDir string // the build directory, shared read-only at /mnt/build
	KeepRun  bool   // keep the run directory after a successful run
	// OutDir receives the files the command writes under HOSTVM_OUT_DIR.
	// An empty OutDir copies nothing.
	OutDir string
}

// runInVM boots image, runs command as root inside it and returns its exit
// status. The run directory under cacheDir/runs is removed when the command
// exits with status 0 and kept, with its console log, otherwise.
func runInVM(ctx context.Context, log *logrus.Entry, image imageDir, cacheDir string, opts vmOptions, command []string, stdout, stderr io.Writer) (res runResult, err error) {
	runsDir := filepath.Join(cacheDir, "runs")
	if err := os.MkdirAll(runsDir, 0o755); err != nil {
		return res, fmt.Errorf("creating %s: %w", runsDir, err)
	}
	pruneRuns(log, runsDir, keptRunAge, time.Now())
	runDir, err := os.MkdirTemp(runsDir, "run-")
	if err != nil {
		return res, fmt.Errorf("creating the run directory: %w", err)
	}
	log = log.WithField("run", filepath.Base(runDir))
	defer func() {
		if err != nil {
			log.Errorf("run failed; console log kept at %s", filepath.Join(runDir, runConsoleLog))
			return
		}
		if res.exitCode != 0 {
			log.Infof("the command failed; console log kept at %s", filepath.Join(runDir, runConsoleLog))
			return
		}
		if opts.KeepRun {
			log.Infof("run directory kept: %s", runDir)
			return
		}
		if rmErr := os.RemoveAll(runDir); rmErr != nil {
			log.WithError(rmErr).Warn("removing the run directory failed")
		}
	}()

	if err := os.Mkdir(filepath.Join(runDir, runOutDir), 0o755); err != nil {
		return res, fmt.Errorf("creating the command's output directory: %w", err)
	}
	script := commandScript(command, opts.Env)
	if err := os.WriteFile(filepath.Join(runDir, runCommandFile), []byte(script), 0o755); err != nil {
		return res, fmt.Errorf("writing the command script: %w", err)
	}

	cfg := vmConfig{
		QEMU:       opts.QEMU,
		Image:      image,
		SMP:        opts.SMP,
		Mem:        opts.Mem,
		CPUFlags:   opts.CPUFlags,
		AIA:        opts.AIA,
		Net:        opts.Net,
		BuildDir:   opts.ShareDir,
		RunDir:     runDir,
		RunID:      filepath.Base(runDir),
		ConsoleLog: filepath.Join(runDir, runConsoleLog),
	}
	qemuLog, err := os.Create(filepath.Join(runDir, runQEMULog))
	if err != nil {
		return res, fmt.Errorf("creating the QEMU log: %w", err)
	}
	defer qemuLog.Close()

	args := qemuArgs(cfg)
	fmt.Fprintf(qemuLog, "%s %s\n", cfg.QEMU, strings.Join(args, " "))
	cmd := exec.Command(cfg.QEMU, args...)
	cmd.Stdout = qemuLog
	cmd.Stderr = qemuLog
	log.WithField("cpu", cpuArg(cfg)).Infof("booting the emulated host (%d harts, %s, timeout %s)", cfg.SMP, cfg.Mem, opts.Timeout)
	if err := startInGroup(cmd); err != nil {
		return res, fmt.Errorf("starting %s: %w: install qemu-system-misc or pass --qemu PATH", cfg.QEMU, err)
	}

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	sup := supervisor{runDir: runDir, stdout: stdout, stderr: stderr, log: log, poll: 200 * time.Millisecond, powerOffGrace: 30 * time.Second}
	res, err = sup.supervise(ctx, cmd)
	if opts.OutDir != "" {
		// The output is copied after a failure too, because a benchmark's
		// partial results or a test's logs are what the user needs then.
		// The command writes this tree as root in the guest, so writeFS
		// rejects links in it instead of following them on this host.
		n, copyErr := writeFS(os.DirFS(filepath.Join(runDir, runOutDir)), ".", opts.OutDir)
		if copyErr != nil {
			err = errors.Join(err, fmt.Errorf("copying the command's output to %s: %w", opts.OutDir, copyErr))
		} else {
			log.Infof("copied %d output files to %s", n, opts.OutDir)
		}
	}
	if err != nil {
		if errors.Is(err, errVMStopped) {
			err = fmt.Errorf("%w; see the console log and %s", err, filepath.Join(runDir, runQEMULog))
		}
		return res, err
	}
	log.Infof("command exited with status %d after %.1f s", res.exitCode, res.runTime.Seconds())
	return res, nil
}

// commandScript returns the shell script that hostvm-run executes in the
// guest: the environment, then the command with each argument quoted.
func commandScript(command []string, env map[string]string) string {
	var b strings.Builder
	b.WriteString("# Written by hostvm; run by /usr/local/sbin/hostvm-run in the guest.\n")
	b.WriteString("export HOSTVM_BUILD_DIR=/mnt/build HOSTVM_RUN_DIR=/mnt/run HOSTVM_OUT_DIR=/mnt/run/" + runOutDir + "\n")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	quoted := make([]string, len(command))
	for i, a := range command {
		quoted[i] = shellQuote(a)
	}
	b.WriteString("exec " + strings.Join(quoted, " ") + "\n")
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// repoRoot returns the nearest directory at or above dir that holds go.mod.
func repoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s: run hostvm from the repository or pass --cache and --share", dir)
		}
	}
}

// keptRunAge is how long the run directories of failed runs are kept. Runs
// are bounded by --timeout, so a directory this old belongs to no live VM
// unless someone passed a timeout of a week or more.
const keptRunAge = 7 * 24 * time.Hour

// pruneRuns removes run directories last modified more than maxAge before now.
func pruneRuns(log *logrus.Entry, runsDir string, maxAge time.Duration, now time.Time) {
	entries, err := os.ReadDir(runsDir)
	if err != nil {
		log.WithError(err).Warn("listing old run directories failed")
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < maxAge {
			continue
		}
		if err := os.RemoveAll(filepath.Join(runsDir, e.Name())); err != nil {
			log.WithError(err).Warnf("removing the old run directory %s failed", e.Name())
		}
	}
}
