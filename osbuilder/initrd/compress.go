package initrd

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression is the initrd's compression format.
type Compression string

const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
	None Compression = "none"
)

// ParseCompression checks a --compress value.
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case Gzip, Zstd, None:
		return c, nil
	}
	return "", fmt.Errorf("invalid compression %q: use gzip, zstd or none", s)
}

// compressor wraps w. Both formats are written without timestamps or file
// names, and zstd with one encoder goroutine, so the output depends only on
// the input bytes.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	case Zstd:
		// The kernel's zstd decompressor handles any window size, but larger
		// windows cost the guest memory while it unpacks: 8 MiB is the
		// default level's window.
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(8<<20))
	case None:
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("invalid compression %q", c)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
