package elfcheck

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// writeELF writes a minimal ELF64 file with an optional PT_INTERP segment.
func writeELF(t *testing.T, machine elf.Machine, class elf.Class, typ elf.Type, interp string) string {
	t.Helper()
	var b bytes.Buffer
	const ehsize, phsize = 64, 56

	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(class), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	hdr := elf.Header64{
		Ident: ident, Type: uint16(typ), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Ehsize: ehsize, Phentsize: phsize,
	}
	if interp != "" {
		hdr.Phoff = ehsize
		hdr.Phnum = 1
	}
	if err := binary.Write(&b, binary.LittleEndian, hdr); err != nil {
		t.Fatal(err)
	}
	if interp != "" {
		data := append([]byte(interp), 0)
		ph := elf.Prog64{Type: uint32(elf.PT_INTERP), Off: ehsize + phsize, Filesz: uint64(len(data)), Memsz: uint64(len(data))}
		if err := binary.Write(&b, binary.LittleEndian, ph); err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}

	path := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(path, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckRISCV64(t *testing.T) {
	tests := []struct {
		name       string
		path       func(t *testing.T) string
		wantErr    bool
		wantStatic bool
		wantInterp string
	}{
		{name: "static riscv64", path: func(t *testing.T) string {
			return writeELF(t, elf.EM_RISCV, elf.ELFCLASS64, elf.ET_EXEC, "")
		}, wantStatic: true},
		{name: "dynamic riscv64", path: func(t *testing.T) string {
			return writeELF(t, elf.EM_RISCV, elf.ELFCLASS64, elf.ET_DYN, "/lib/ld-linux-riscv64-lp64d.so.1")
		}, wantInterp: "/lib/ld-linux-riscv64-lp64d.so.1"},
		{name: "x86-64 executable", path: func(t *testing.T) string {
			return writeELF(t, elf.EM_X86_64, elf.ELFCLASS64, elf.ET_EXEC, "")
		}, wantErr: true},
		{name: "riscv64 object file", path: func(t *testing.T) string {
			return writeELF(t, elf.EM_RISCV, elf.ELFCLASS64, elf.ET_REL, "")
		}, wantErr: true},
		{name: "shell script", path: func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "agent.sh")
			if err := os.WriteFile(p, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, wantErr: true},
		{name: "missing file", path: func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "absent")
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckRISCV64(tt.path(t))
			if (err != nil) != tt.wantErr {
				t.Fatalf("CheckRISCV64() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Static != tt.wantStatic {
				t.Errorf("Static = %v, want %v", got.Static, tt.wantStatic)
			}
			if got.Interpreter != tt.wantInterp {
				t.Errorf("Interpreter = %q, want %q", got.Interpreter, tt.wantInterp)
			}
		})
	}
}

func TestCheckRISCV64WrongMachineIsSentinel(t *testing.T) {
	_, err := CheckRISCV64(writeELF(t, elf.EM_AARCH64, elf.ELFCLASS64, elf.ET_EXEC, ""))
	if !errors.Is(err, ErrNotRISCV64) {
		t.Errorf("error = %v, want one wrapping ErrNotRISCV64", err)
	}
}
