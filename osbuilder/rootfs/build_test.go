package rootfs

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/osbuilder/distro"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/elfcheck"
	"github.com/kata-riscv64/kata-riscv64/osbuilder/output"
)

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// closedMirror returns a loopback URL on which nothing listens.
func closedMirror(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/debian"
	l.Close()
	return url
}

func TestBuildRejectsBadInput(t *testing.T) {
	debian, suite, _ := distro.Lookup("debian", "")
	if _, err := os.Stat(debian.Keyring); err != nil {
		t.Skipf("needs the Debian archive keyring %s (package debian-archive-keyring)", debian.Keyring)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOARCH == "riscv64" {
		t.Skip("the test binary is a riscv64 ELF here, so it cannot stand for a wrong agent")
	}
	riscvAgent := filepath.Join(t.TempDir(), "kata-agent")
	// A minimal riscv64 ELF header: class 64, little endian, ET_EXEC, EM_RISCV.
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	hdr[16], hdr[18], hdr[20], hdr[52] = 2, 243, 1, 64
	if err := os.WriteFile(riscvAgent, hdr, 0o755); err != nil {
		t.Fatal(err)
	}
	existing := t.TempDir()

	tests := []struct {
		name    string
		modify  func(o *Options)
		wantErr string
		wantIs  error
	}{
		{name: "missing agent", modify: func(o *Options) { o.Agent = filepath.Join(t.TempDir(), "absent") }, wantErr: "GOARCH=riscv64"},
		{name: "host agent", modify: func(o *Options) { o.Agent = self }, wantIs: elfcheck.ErrNotRISCV64},
		{name: "existing output", modify: func(o *Options) { o.Out = existing }, wantIs: output.ErrExists},
		{name: "unreachable mirror", modify: func(o *Options) { o.Mirror = closedMirror(t) }, wantErr: "pass another with --mirror"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "rootfs")
			o := Options{Distro: debian, Suite: suite, Mirror: closedMirror(t), Kind: distro.AgentInit,
				Agent: riscvAgent, CacheDir: t.TempDir(), Out: out, Log: quietLog()}
			tt.modify(&o)
			_, err := Build(context.Background(), o)
			if err == nil {
				t.Fatal("Build() error = nil")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Build() error = %v, want one wrapping %v", err, tt.wantIs)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Build() error = %v, want one containing %q", err, tt.wantErr)
			}
			entries, _ := os.ReadDir(filepath.Dir(out))
			if o.Out == out && len(entries) != 0 {
				t.Errorf("failed build left %d entries in the output directory", len(entries))
			}
		})
	}
}
