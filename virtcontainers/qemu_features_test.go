package virtcontainers

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestResolveAIA(t *testing.T) {
	qemu81KVM := QEMUFeatures{
		Version:      QEMUVersion{Major: 8, Minor: 1, Micro: 0},
		AIAModes:     []AIAMode{AIANone, AIAAPLIC, AIAAPLICIMSIC},
		Accelerators: []Accelerator{AccelKVM, AccelTCG},
	}
	qemu60 := QEMUFeatures{Version: QEMUVersion{Major: 6, Minor: 0, Micro: 0}, Accelerators: []Accelerator{AccelKVM, AccelTCG}}
	tests := []struct {
		name      string
		requested AIAMode
		accel     Accelerator
		features  QEMUFeatures
		kvm       fakeKVM
		want      AIAMode
		wantErr   error
	}{
		{"none always", AIANone, AccelTCG, qemu60, fakeKVM{}, AIANone, nil},
		{"aplic on 7.2", AIAAPLIC, AccelTCG, qemu72, fakeKVM{}, AIAAPLIC, nil},
		{"aplic on 6.0", AIAAPLIC, AccelTCG, qemu60, fakeKVM{}, "", ErrQEMUTooOld},
		{"imsic TCG explicit on 7.2", AIAAPLICIMSIC, AccelTCG, qemu72, fakeKVM{}, AIAAPLICIMSIC, nil},
		{"imsic KVM host has AIA", AIAAPLICIMSIC, AccelKVM, kvmQEMU, fakeKVM{hasAIA: true}, AIAAPLICIMSIC, nil},
		{"imsic KVM host lacks AIA", AIAAPLICIMSIC, AccelKVM, kvmQEMU, fakeKVM{hasAIA: false}, "", ErrNotSupported},
		{"imsic KVM host unknown", AIAAPLICIMSIC, AccelKVM, kvmQEMU, fakeKVM{aiaErr: ErrAIAUnknown}, AIAAPLICIMSIC, nil},
		{"auto TCG 7.2 takes PLIC", AIAAuto, AccelTCG, qemu72, fakeKVM{}, AIANone, nil},
		{"auto TCG 10.0 takes imsic", AIAAuto, AccelTCG, kvmQEMU, fakeKVM{}, AIAAPLICIMSIC, nil},
		{"auto KVM host AIA", AIAAuto, AccelKVM, kvmQEMU, fakeKVM{hasAIA: true}, AIAAPLICIMSIC, nil},
		{"auto KVM host lacks AIA", AIAAuto, AccelKVM, kvmQEMU, fakeKVM{hasAIA: false}, AIANone, nil},
		{"auto KVM host unknown", AIAAuto, AccelKVM, kvmQEMU, fakeKVM{aiaErr: ErrAIAUnknown}, AIANone, nil},
		{"auto QEMU without AIA", AIAAuto, AccelKVM, qemu60, fakeKVM{hasAIA: true}, AIANone, nil},
		{"imsic KVM on QEMU 8.1", AIAAPLICIMSIC, AccelKVM, qemu81KVM, fakeKVM{hasAIA: true}, "", ErrQEMUTooOld},
		{"auto KVM on QEMU 8.1", AIAAuto, AccelKVM, qemu81KVM, fakeKVM{hasAIA: true}, AIANone, nil},
		{"unknown mode", "msi", AccelTCG, qemu72, fakeKVM{}, "", ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolveAIA(tc.requested, tc.accel, "/usr/bin/qemu-system-riscv64", tc.features, tc.kvm)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("resolveAIA error = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("resolveAIA = %q, want %q", got, tc.want)
			}
		})
	}
}

// machineHelp72 is the start of "qemu-system-riscv64 -machine virt,help" of
// QEMU 7.2.22 on Debian 12.
const machineHelp72 = `virt-machine options:
  aclint=<bool>          - Set on/off to enable/disable emulating ACLINT devices
  aia-guests=<string>    - Set number of guest MMIO pages for AIA IMSIC. Valid value should be between 0 and 7.
  aia=<string>           - Set type of AIA interrupt conttoller. Valid values are none, aplic, and aplic-imsic.
  append=<string>        - Linux kernel command line
`

func TestParseProbeOutput(t *testing.T) {
	modes := parseAIAModes(machineHelp72)
	if want := []AIAMode{AIANone, AIAAPLIC, AIAAPLICIMSIC}; !slices.Equal(modes, want) {
		t.Errorf("parseAIAModes = %v, want %v", modes, want)
	}
	if modes := parseAIAModes("virt-machine options:\n  aclint=<bool> - x\n"); modes != nil {
		t.Errorf("parseAIAModes without an aia line = %v, want none", modes)
	}

	accels := parseAccelerators("Accelerators supported in QEMU binary:\ntcg\nkvm\n")
	if want := []Accelerator{AccelTCG, AccelKVM}; !slices.Equal(accels, want) {
		t.Errorf("parseAccelerators = %v, want %v", accels, want)
	}

	v, err := parseQEMUVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright ...")
	if err != nil || v != (QEMUVersion{Major: 7, Minor: 2, Micro: 22}) {
		t.Errorf("parseQEMUVersion = %v, %v, want 7.2.22", v, err)
	}
	v, err = parseQEMUVersion("QEMU emulator version 10.0\n")
	if err != nil || v != (QEMUVersion{Major: 10, Minor: 0, Micro: 0}) {
		t.Errorf("parseQEMUVersion = %v, %v, want 10.0.0", v, err)
	}
	if _, err := parseQEMUVersion("something else"); err == nil {
		t.Errorf("parseQEMUVersion of garbage returned no error")
	}
}

func TestExecQEMUProberWithScript(t *testing.T) {
	qemu := writeScript(t, `case "$*" in
"-version") echo "QEMU emulator version 9.1.3" ;;
"-machine virt,help") echo "  aia=<string> - Set type of AIA interrupt controller. Valid values are none, aplic, and aplic-imsic." ;;
"-accel help") printf 'Accelerators supported in QEMU binary:\nkvm\ntcg\n' ;;
"-sandbox on -version") echo "qemu-system-riscv64: -sandbox on: There is no option group 'sandbox'" >&2; exit 1 ;;
esac
`)
	p := NewExecQEMUProber()
	f, err := p.ProbeQEMU(qemu)
	if err != nil {
		t.Fatalf("ProbeQEMU: %v", err)
	}
	if f.Version != (QEMUVersion{Major: 9, Minor: 1, Micro: 3}) {
		t.Errorf("Version = %v, want 9.1.3", f.Version)
	}
	if !slices.Equal(f.AIAModes, []AIAMode{AIANone, AIAAPLIC, AIAAPLICIMSIC}) {
		t.Errorf("AIAModes = %v", f.AIAModes)
	}
	if !slices.Equal(f.Accelerators, []Accelerator{AccelKVM, AccelTCG}) {
		t.Errorf("Accelerators = %v", f.Accelerators)
	}
	if f.Seccomp {
		t.Errorf("Seccomp = true for a QEMU without the sandbox option group")
	}

	// The cache answers without running the binary again.
	if err := os.Chmod(qemu, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ProbeQEMU(qemu); err != nil {
		t.Errorf("cached ProbeQEMU: %v", err)
	}
}

func TestRunProbeErrors(t *testing.T) {
	silent := writeScript(t, "exit 1\n")
	_, err := runProbe(silent, "-version")
	if err == nil || !strings.Contains(err.Error(), "no output on stderr") || strings.HasSuffix(err.Error(), ": ") {
		t.Errorf("runProbe of a binary that fails silently: %v, want an error that says stderr was empty", err)
	}

	noisy := writeScript(t, "echo 'qemu: unsupported machine' >&2\nexit 1\n")
	_, err = runProbe(noisy, "-version")
	if err == nil || !strings.HasSuffix(err.Error(), ": qemu: unsupported machine") {
		t.Errorf("runProbe of a binary that fails with a message: %v, want the message at the end", err)
	}
}

func TestExecQEMUProberFeatureCacheDir(t *testing.T) {
	script := `case "$*" in
"-version") echo "QEMU emulator version 10.0.2" ;;
"-machine virt,help") echo "  aia=<string> - Valid values are none, aplic, and aplic-imsic." ;;
"-accel help") printf 'Accelerators supported in QEMU binary:\ntcg\n' ;;
"-sandbox on -version") echo "QEMU emulator version 10.0.2" ;;
esac
`
	qemu := writeScript(t, script)
	cacheDir := filepath.Join(t.TempDir(), "cache")

	first, err := NewExecQEMUProber(WithFeatureCacheDir(cacheDir)).ProbeQEMU(qemu)
	if err != nil {
		t.Fatalf("first ProbeQEMU: %v", err)
	}
	info, err := os.Stat(cacheDir)
	if err != nil {
		t.Fatalf("cache directory: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("cache directory mode = %o, want 700", perm)
	}

	// A second prober, as in the next shim, reads the file and does not run
	// the binary, which can no longer be executed.
	modTime := time.Now().Add(-time.Hour)
	if err := os.Chtimes(qemu, modTime, modTime); err != nil {
		t.Fatal(err)
	}
	if _, err := NewExecQEMUProber(WithFeatureCacheDir(cacheDir)).ProbeQEMU(qemu); err != nil {
		t.Fatalf("re-probe after touching the binary: %v", err)
	}
	if err := os.Chmod(qemu, 0o644); err != nil {
		t.Fatal(err)
	}
	second, err := NewExecQEMUProber(WithFeatureCacheDir(cacheDir)).ProbeQEMU(qemu)
	if err != nil {
		t.Fatalf("ProbeQEMU from the cache file: %v", err)
	}
	if second.Version != first.Version || !slices.Equal(second.AIAModes, first.AIAModes) ||
		!slices.Equal(second.Accelerators, first.Accelerators) || second.Seccomp != first.Seccomp {
		t.Errorf("cached features = %+v, want %+v", second, first)
	}

	// An upgraded binary (new size and time) misses the cache and is run.
	if err := os.Chmod(qemu, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qemu, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewExecQEMUProber(WithFeatureCacheDir(cacheDir)).ProbeQEMU(qemu); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("ProbeQEMU of a changed binary = %v, want the new binary's version error, not the stale cache entry", err)
	}

	// A corrupt cache file is ignored.
	entries, err := filepath.Glob(filepath.Join(cacheDir, "*.json"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("cache files = %v, %v; want one", entries, err)
	}
	if err := os.WriteFile(entries[0], []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(qemu, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewExecQEMUProber(WithFeatureCacheDir(cacheDir)).ProbeQEMU(qemu); err != nil {
		t.Errorf("ProbeQEMU with a corrupt cache file: %v", err)
	}
}

func TestAllocateGuestCID(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "vhost-vsock")
	if err := os.WriteFile(dev, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	taken := map[uint64]bool{}
	var tried []uint64
	set := func(fd uintptr, cid uint64) error {
		tried = append(tried, cid)
		if taken[cid] {
			return unix.EADDRINUSE
		}
		return nil
	}

	// Find the random start, then take it and the next CID.
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
	f, first, err := allocateGuestCID(dev, set, rng())
	if err != nil {
		t.Fatalf("allocateGuestCID: %v", err)
	}
	f.Close()
	if first < firstGuestCID || first > lastGuestCID {
		t.Fatalf("CID %d outside %d..%d", first, firstGuestCID, lastGuestCID)
	}

	taken[uint64(first)] = true
	taken[uint64(first)+1] = true
	tried = nil
	f, got, err := allocateGuestCID(dev, set, rng())
	if err != nil {
		t.Fatalf("allocateGuestCID with taken CIDs: %v", err)
	}
	f.Close()
	if got != first+2 {
		t.Errorf("allocateGuestCID = %d, want %d (the first free after %d)", got, first+2, first)
	}
	if len(tried) != 3 {
		t.Errorf("tried CIDs %v, want 3 attempts", tried)
	}

	failing := func(uintptr, uint64) error { return unix.ENOTTY }
	if _, _, err := allocateGuestCID(dev, failing, rng()); !errors.Is(err, unix.ENOTTY) {
		t.Errorf("allocateGuestCID with a failing ioctl error = %v, want ENOTTY", err)
	}
	if _, _, err := allocateGuestCID("/nonexistent/vhost-vsock", set, rng()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("allocateGuestCID of a missing device error = %v, want not exist", err)
	}
}

func TestChooseAgentChannel(t *testing.T) {
	present := filepath.Join(t.TempDir(), "vhost-vsock")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := "/nonexistent/vhost-vsock"

	tests := []struct {
		configured AgentChannel
		device     string
		want       AgentChannel
		wantErr    bool
	}{
		{ChannelAuto, present, ChannelVsock, false},
		{ChannelAuto, missing, ChannelSerial, false},
		{"", missing, ChannelSerial, false},
		{ChannelSerial, present, ChannelSerial, false},
		{ChannelVsock, present, ChannelVsock, false},
		{ChannelVsock, missing, "", true},
		{"hvsock", present, "", true},
	}
	for _, tc := range tests {
		got, err := chooseAgentChannel(tc.configured, tc.device)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("chooseAgentChannel(%q, %s) = %q, %v; want %q, error %v", tc.configured, tc.device, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestVirtiofsdArgs(t *testing.T) {
	tests := []struct {
		name   string
		legacy bool
		cache  string
		extra  []string
		want   string
	}{
		{"rust", false, "", []string{"--thread-pool-size=1", "--announce-submounts"},
			"--socket-path=/run/vc/vm/x/virtiofsd.sock --shared-dir=/srv/shared --cache=auto --thread-pool-size=1 --announce-submounts"},
		{"qemu 7.2 C daemon", true, "never", nil,
			"--socket-path=/run/vc/vm/x/virtiofsd.sock -o source=/srv/shared -o cache=never"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(virtiofsdArgs(tc.legacy, "/run/vc/vm/x/virtiofsd.sock", "/srv/shared", tc.cache, tc.extra), " ")
			if got != tc.want {
				t.Errorf("virtiofsdArgs = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsLegacyVirtiofsd(t *testing.T) {
	tests := []struct {
		output string
		want   bool
	}{
		{"virtiofsd version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard", true},
		{"virtiofsd 1.13.0", false},
	}
	for _, tc := range tests {
		daemon := writeScript(t, "cat <<'END'\n"+tc.output+"\nEND\n")
		got, err := isLegacyVirtiofsd(daemon)
		if err != nil || got != tc.want {
			t.Errorf("isLegacyVirtiofsd(%q) = %v, %v; want %v", tc.output, got, err, tc.want)
		}
	}
	if _, err := isLegacyVirtiofsd("/nonexistent/virtiofsd"); err == nil {
		t.Errorf("isLegacyVirtiofsd of a missing binary returned no error")
	}
}
