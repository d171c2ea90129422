package virtcontainers

import (
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantFCBootArgs is the riscv64 kernel command line for an ext4 guest image
// on root and a default agent configuration.
func wantFCBootArgs(debug bool, root string) string {
	console := "8250.nr_uarts=0"
	if debug {
		console = "console=ttyS0"
	}
	return console + " reboot=k panic=1 pci=off net.ifnames=0 root=" + root + " rootfstype=ext4 ro rootflags=data=ordered,errors=remount-ro"
}

func writeKernel(t *testing.T, path string, header []byte) string {
	t.Helper()
	data := make([]byte, 4096)
	copy(data, header)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// riscvELFHeader returns the 64-byte header of a little-endian 64-bit
// RISC-V ELF executable (e_machine 243, EM_RISCV), as vmlinux has.
func riscvELFHeader() []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 2)   // e_type ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], 243) // e_machine EM_RISCV
	binary.LittleEndian.PutUint32(h[20:], 1)   // e_version
	binary.LittleEndian.PutUint16(h[52:], 64)  // e_ehsize
	binary.LittleEndian.PutUint16(h[54:], 56)  // e_phentsize
	binary.LittleEndian.PutUint16(h[58:], 64)  // e_shentsize
	return h
}

func TestRISCVKernelCheck(t *testing.T) {
	dir := t.TempDir()

	gz := filepath.Join(dir, "vmlinuz.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	zboot := make([]byte, 0x40)
	copy(zboot, "MZ\x00\x00zimg")
	copy(zboot[0x18:], "gzip\x00")

	tests := []struct {
		name      string
		path      string
		wantFound string // "" when the kernel is accepted
	}{
		{"Image", func() string { p := filepath.Join(dir, "Image"); writeRISCVImage(t, p); return p }(), ""},
		{"Debian 6.12 Image", filepath.Join("pkg", "riscv", "testdata", "debian-6.12.117-riscv64-Image.head"), ""},
		{"ELF vmlinux", writeKernel(t, filepath.Join(dir, "vmlinux"), riscvELFHeader()), "ELF (64-bit RISC-V ELF)"},
		{"gzip", gz, "compressed (gzip-compressed data)"},
		{"zstd", writeKernel(t, filepath.Join(dir, "vmlinuz.zst"), []byte{0x28, 0xb5, 0x2f, 0xfd}), "zstd"},
		{"xz", writeKernel(t, filepath.Join(dir, "vmlinuz.xz"), []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}), "xz"},
		{"EFI zboot", writeKernel(t, filepath.Join(dir, "vmlinuz.efi"), zboot), "EFI zboot image with a gzip payload"},
		{"arm64 Image", writeKernel(t, filepath.Join(dir, "Image-arm64"), append(make([]byte, 0x38), "ARM\x64"...)), "other architecture (arm64 Image)"},
		{"unknown", writeKernel(t, filepath.Join(dir, "random"), []byte("hello")), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkRISCVImage(tt.path)
			if tt.wantFound == "" {
				if err != nil {
					t.Fatalf("checkRISCVImage(%s): got %v, want nil", tt.path, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("checkRISCVImage(%s): got nil, want an error saying it is %s", tt.path, tt.wantFound)
			}
			for _, want := range []string{tt.path, tt.wantFound, "only an uncompressed riscv64 Image"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			}
			if !errors.Is(err, ErrNotSupported) {
				t.Errorf("error %q: want ErrNotSupported", err)
			}
		})
	}

	if err := checkRISCVImage(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("checkRISCVImage of a missing file: got %v, want an error naming it", err)
	}
}

func TestFirecrackerRISCVRejectsBadBootAssets(t *testing.T) {
	f := newFCFixture(t)
	elf := writeKernel(t, filepath.Join(f.dir, "vmlinux"), riscvELFHeader())
	initrd := filepath.Join(f.dir, "kata-containers-initrd.img")
	if err := os.WriteFile(initrd, []byte("070701"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		modify  func(*HypervisorConfig)
		wantErr []string
	}{
		{"ELF kernel", func(hc *HypervisorConfig) { hc.KernelPath = elf }, []string{elf, "ELF (64-bit RISC-V ELF)", "uncompressed riscv64 Image"}},
		{"initrd", func(hc *HypervisorConfig) { hc.InitrdPath = initrd }, []string{initrd, "cannot load an initrd", "set image"}},
		{"initrd instead of image", func(hc *HypervisorConfig) { hc.InitrdPath, hc.ImagePath = initrd, "" }, []string{"cannot load an initrd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := f.config()
			tt.modify(&hc)
			_, err := NewFirecracker("sb", hc, AgentConfig{}, f.options())
			if err == nil {
				t.Fatalf("NewFirecracker: got nil, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q: want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestFirecrackerRISCVDeviceBudget(t *testing.T) {
	f := newFCFixture(t)
	nets := func(n int) []FirecrackerNetwork {
		var out []FirecrackerNetwork
		for i := range n {
			out = append(out, FirecrackerNetwork{ID: "eth" + string(rune('0'+i)), HostDevName: "tap" + string(rune('0'+i))})
		}
		return out
	}

	tests := []struct {
		name       string
		debug      bool
		params     []string
		networks   int
		drives     int
		wantDrives int
		wantErr    string
	}{
		{"default, no network", false, nil, 0, 0, 8, ""},
		{"default, one network", false, nil, 1, 0, 7, ""},
		{"default, debug serial and one network", true, nil, 1, 0, 6, ""},
		{"console in kernel_params", false, []string{"quiet", "console=ttyS0"}, 0, 0, 7, ""},
		{"eight drives fill the ten sources", false, nil, 0, 8, 8, ""},
		{"Kata's device set", true, nil, 1, 8, 0, "12 devices (guest image + 8 container drives + vsock + 1 network interfaces + serial port) but Firecracker's interrupt controller has 10 interrupt sources"},
		{"nine drives", false, nil, 0, 9, 0, "11 devices"},
		{"networks leave no drive", false, nil, 8, 0, 0, "10 devices (guest image + 0 container drives"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := f.config()
			hc.EnableDebug = tt.debug
			hc.KernelParams = tt.params
			opts := f.options()
			opts.Networks = nets(tt.networks)
			opts.ContainerDrives = tt.drives
			fc, err := NewFirecracker("sb", hc, AgentConfig{}, opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewFirecracker: got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFirecracker: %v", err)
			}
			if fc.opts.ContainerDrives != tt.wantDrives {
				t.Errorf("container drives: got %d, want %d", fc.opts.ContainerDrives, tt.wantDrives)
			}
		})
	}
}

func TestRISCVKernelParams(t *testing.T) {
	tests := []struct {
		name string
		p    fcKernelParams
		want string
	}{
		{"default", fcKernelParams{RootDevice: "/dev/vda1", RootfsType: "ext4"},
			"8250.nr_uarts=0 reboot=k panic=1 pci=off net.ifnames=0 root=/dev/vda1 rootfstype=ext4 ro rootflags=data=ordered,errors=remount-ro"},
		{"debug", fcKernelParams{Debug: true, RootDevice: "/dev/vda", RootfsType: "erofs"},
			"console=ttyS0 reboot=k panic=1 pci=off net.ifnames=0 root=/dev/vda rootfstype=erofs ro"},
		{"agent options", fcKernelParams{RootDevice: "/dev/vda1", RootfsType: "xfs", Agent: AgentConfig{EnableDebug: true, EnableTracing: true, DebugConsoleEnabled: true}},
			"8250.nr_uarts=0 reboot=k panic=1 pci=off net.ifnames=0 root=/dev/vda1 rootfstype=xfs ro agent.log=debug agent.trace=true agent.debug_console agent.debug_console_vport=1026"},
	}
	for _, tt := range tests {
		got := strings.Join(riscv64FCArch{}.kernelParams(tt.p), " ")
		if got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestFirecrackerRISCVInterruptSourcesOverride(t *testing.T) {
	f := newFCFixture(t)
	hc := f.config()
	hc.EnableDebug = true
	opts := f.options()
	opts.Networks = []FirecrackerNetwork{{ID: "eth0", HostDevName: "tap0"}}
	opts.ContainerDrives = 8
	opts.InterruptSources = 96
	fc, err := NewFirecracker("sb", hc, AgentConfig{}, opts)
	if err != nil {
		t.Fatalf("NewFirecracker with 12 devices and 96 interrupt sources: %v", err)
	}
	if fc.opts.ContainerDrives != 8 {
		t.Errorf("container drives: got %d, want 8", fc.opts.ContainerDrives)
	}
}

func TestFirecrackerRISCVCmdlineLimit(t *testing.T) {
	f := newFCFixture(t)
	hc := f.config()
	hc.KernelParams = []string{"x=" + strings.Repeat("y", 1000)}
	fc, err := NewFirecracker("longcmd", hc, AgentConfig{}, f.options())
	if err != nil {
		t.Fatal(err)
	}
	err = fc.StartVM(context.Background())
	if err == nil || !strings.Contains(err.Error(), "longer than the 1023 Firecracker accepts") {
		t.Fatalf("StartVM with a 1002-byte kernel parameter: got %v, want a command line length error", err)
	}
	for _, r := range configRequests(f.requests(t)) {
		if strings.HasPrefix(r, "PUT /boot-source") {
			t.Errorf("requests: got %s, want no boot source sent", r)
		}
	}
}
