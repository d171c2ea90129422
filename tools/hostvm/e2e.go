package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// e2eBinary is the path of the riscv64 test binary of tests/e2e, relative to
// the build directory, which the guest mounts at /mnt/build.
const e2eBinary = "riscv64/e2e.test"

// e2ePass is one boot of the end-to-end suite.
type e2ePass struct {
	name     string
	cpuFlags map[string]string
	// env declares to the tests which host they run on (see tests/e2e).
	env map[string]string
	// run is the -test.run pattern; empty runs every test.
	run string
}

// e2ePasses returns the boots of 'hostvm e2e': the full suite on a host with
// the H extension, then the tests about a host without it, which need a boot
// with h=false.
func e2ePasses() []e2ePass {
	return []e2ePass{
		{name: "with H", env: map[string]string{"KATA_E2E_HOST_H": "present"}},
		{name: "without H", cpuFlags: map[string]string{"h": "false"},
			env: map[string]string{"KATA_E2E_HOST_H": "absent"}, run: "WithoutH"},
	}
}

// e2eCommand returns the command line of one pass inside the guest.
func e2eCommand(p e2ePass, testTimeout time.Duration) []string {
	cmd := []string{"/mnt/build/" + e2eBinary, "-test.v", "-test.count=1", "-test.timeout=" + testTimeout.String()}
	if p.run != "" {
		cmd = append(cmd, "-test.run="+p.run)
	}
	return cmd
}

func runE2E(log *logrus.Entry, args []string) int {
	var common commonFlags
	var vm vmFlags
	fs := newFlagSet("e2e", "[flags]\n\nBuilds tests/e2e for riscv64 into build/"+e2eBinary+
		" and runs it inside the emulated host twice: with the H extension, then with h=false for the tests named WithoutH.")
	common.register(fs)
	// The pass with H took 11 min on a 2-core x86_64 build host, most of it
	// in some 20 sandboxes of 25 to 30 s each under nested KVM. Timings vary
	// up to 2x with the load, and the limit leaves room for that.
	vm.register(fs, 40*time.Minute)
	if err := fs.Parse(args); err != nil {
		return usageExit(err)
	}
	if fs.NArg() > 0 {
		return usageExit(errorf("unexpected arguments %q: hostvm e2e takes only flags", fs.Args()))
	}
	if vm.cpuFlags != "" {
		return usageExit(errorf("--cpu-flags is set by each e2e pass; use hostvm run for other CPU models"))
	}
	root, err := workingRoot()
	if err != nil {
		log.Error(err)
		return exitFailure
	}
	common.resolve(root)
	opts, err := vm.options(root)
	if err != nil {
		return usageExit(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	if err := step(log, "go test -c: tests/e2e for riscv64", func() error {
		return buildE2EBinary(ctx, root, filepath.Join(opts.ShareDir, e2eBinary))
	}); err != nil {
		log.Error(err)
		return exitFailure
	}
	image, err := prepareBoot(ctx, log, common, opts)
	if err != nil {
		log.Error(err)
		return exitFailure
	}

	type outcome struct {
		name string
		code int
		res  runResult
	}
	var outcomes []outcome
	final := 0
	for _, p := range e2ePasses() {
		passOpts := opts
		passOpts.CPUFlags = p.cpuFlags
		passOpts.Env = map[string]string{}
		for k, v := range opts.Env {
			passOpts.Env[k] = v
		}
		for k, v := range p.env {
			passOpts.Env[k] = v
		}
		if opts.AIA {
			passOpts.Env["KATA_E2E_HOST_AIA"] = "present"
		}
		plog := log.WithField("pass", p.name)
		plog.Info("running the end-to-end tests")
		// The test binary's own timeout fires first, so a hung test is
		// reported by name before the VM is killed.
		res, err := runInVM(ctx, plog, image, common.cache, passOpts, e2eCommand(p, opts.Timeout-3*time.Minute), os.Stdout, os.Stderr)
		code := exitCodeOf(plog, res, err)
		outcomes = append(outcomes, outcome{p.name, code, res})
		if code != 0 && final == 0 {
			final = code
		}
		if ctx.Err() != nil {
			break
		}
	}

	for _, o := range outcomes {
		log.Infof("summary: %-9s exit %d, boot to command %.1f s, total %.1f s", o.name, o.code, o.res.bootTime.Seconds(), o.res.runTime.Seconds())
	}
	log.Infof("summary: end-to-end tests took %s, exit %d", time.Since(start).Round(time.Second), final)
	return final
}

// buildE2EBinary compiles tests/e2e as a static riscv64 test binary.
func buildE2EBinary(ctx context.Context, root, out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := exec.CommandContext(ctx, goTool, "test", "-c", "-tags", "e2e", "-o", out, "./tests/e2e")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=riscv64", "CGO_ENABLED=0")
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building the riscv64 e2e test binary %s: %w", out, err)
	}
	return nil
}
