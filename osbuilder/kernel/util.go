package kernel

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
)

func runtimeArch() string { return runtime.GOARCH }

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func copyPlain(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
