// Package elfcheck verifies that a file is an executable the riscv64 guest
// can run, before osbuilder copies it into a root filesystem. A wrong agent
// binary otherwise shows up only as a guest whose agent never starts.
package elfcheck

import (
	"debug/elf"
	"errors"
	"fmt"
)

// ErrNotRISCV64 is returned for ELF files built for another machine or class.
var ErrNotRISCV64 = errors.New("not a riscv64 executable")

// Info describes a checked executable.
type Info struct {
	// Static is true when the file has no program interpreter (PT_INTERP),
	// so it runs without the guest's dynamic loader.
	Static bool
	// Interpreter is the dynamic loader path when Static is false.
	Interpreter string
}

// CheckRISCV64 opens path and returns an error unless it is a 64-bit
// little-endian RISC-V ELF executable (ET_EXEC or ET_DYN).
func CheckRISCV64(path string) (Info, error) {
	f, err := elf.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("%s is not an ELF file (%w): build it with GOOS=linux GOARCH=riscv64", path, err)
	}
	defer f.Close()

	if f.Machine != elf.EM_RISCV || f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB {
		return Info{}, fmt.Errorf("%s: %w: machine %s, class %s, %s; build it with GOOS=linux GOARCH=riscv64",
			path, ErrNotRISCV64, f.Machine, f.Class, f.Data)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return Info{}, fmt.Errorf("%s: %w: ELF type %s is not an executable", path, ErrNotRISCV64, f.Type)
	}

	info := Info{Static: true}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		buf := make([]byte, p.Filesz)
		if _, err := p.ReadAt(buf, 0); err != nil {
			return Info{}, fmt.Errorf("reading the program interpreter of %s: %w", path, err)
		}
		info.Static = false
		info.Interpreter = string(trimNUL(buf))
	}
	return info, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
