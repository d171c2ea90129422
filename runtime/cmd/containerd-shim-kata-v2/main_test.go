package main

import "testing"

func TestServing(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"-namespace", "default", "-address", "/run/containerd/containerd.sock", "-id", "c1"}, true},
		{[]string{"-namespace", "default", "-id", "c1", "-debug"}, true},
		{[]string{"-namespace", "default", "-address", "/run/containerd/containerd.sock", "-publish-binary", "/usr/bin/containerd", "-id", "c1", "start"}, false},
		{[]string{"-namespace", "default", "-id", "c1", "delete"}, false},
		{[]string{"-v"}, true},
		{nil, false},
	}
	for _, c := range cases {
		if got := serving(c.args); got != c.want {
			t.Errorf("serving(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}
