package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "no command", args: nil, want: 2},
		{name: "unknown command", args: []string{"bake"}, want: 2},
		{name: "version", args: []string{"--version"}, want: 0},
		{name: "subcommand help", args: []string{"image", "--help"}, want: 0},
		{name: "unknown flag", args: []string{"initrd", "--colour"}, want: 2},
		{name: "rootfs without agent", args: []string{"rootfs", "--out", filepath.Join(dir, "r")}, want: 1},
		{name: "rootfs unknown distro", args: []string{"rootfs", "--distro", "arch", "--agent", "/bin/sh", "--out", filepath.Join(dir, "r")}, want: 1},
		{name: "initrd bad compression", args: []string{"initrd", "--rootfs", dir, "--out", filepath.Join(dir, "i"), "--compress", "lz4"}, want: 1},
		{name: "image without rootfs", args: []string{"image", "--out", filepath.Join(dir, "x.img")}, want: 1},
		{name: "kernel unknown suite", args: []string{"kernel", "--distro", "debian", "--suite", "buster", "--out", filepath.Join(dir, "k")}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.args); got != tt.want {
				t.Errorf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}

func TestSourceDateEpoch(t *testing.T) {
	fallback := time.Unix(42, 0)
	tests := []struct {
		value   string
		want    time.Time
		wantErr bool
	}{
		{value: "", want: fallback},
		{value: "1700000000", want: time.Unix(1700000000, 0).UTC()},
		{value: "yesterday", wantErr: true},
		{value: "-5", wantErr: true},
	}
	for _, tt := range tests {
		t.Run("value "+tt.value, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.value)
			got, err := sourceDateEpoch(fallback)
			if (err != nil) != tt.wantErr {
				t.Fatalf("sourceDateEpoch() error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !got.Equal(tt.want) {
				t.Errorf("sourceDateEpoch() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAbsPaths(t *testing.T) {
	rel, empty := "build/cache", ""
	if err := absPaths(&rel, &empty); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "build/cache"); rel != want {
		t.Errorf("absPaths(build/cache) = %q, want %q", rel, want)
	}
	if empty != "" {
		t.Errorf("absPaths(\"\") = %q, want it left empty", empty)
	}
}
