package kmod

import (
	"errors"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
)

// recordLoads returns a load function that records the names it gets and
// fails for the names in failing.
func recordLoads(got *[]string, failing ...string) func(string) error {
	return func(name string) error {
		if slices.Contains(failing, name) {
			return errors.New("no such module")
		}
		*got = append(*got, name)
		return nil
	}
}

func TestOnDemandLoadsOnce(t *testing.T) {
	var got []string
	d := NewOnDemand(recordLoads(&got), []string{"virtio_net", "9p", "9pnet_virtio", "virtio_blk"}, logrus.NewEntry(logrus.New()))

	if err := d.Need("9pnet_virtio", "9p"); err != nil {
		t.Fatal(err)
	}
	if err := d.Need("9p", "virtiofs"); err != nil {
		t.Fatal(err)
	}

	if want := []string{"9pnet_virtio", "9p"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
	if pending := d.Pending(); !slices.Equal(pending, []string{"virtio_blk", "virtio_net"}) {
		t.Errorf("pending %v, want [virtio_blk virtio_net]", pending)
	}
}

func TestOnDemandDashUnderscore(t *testing.T) {
	var got []string
	d := NewOnDemand(recordLoads(&got), []string{"crc32c-generic"}, logrus.NewEntry(logrus.New()))

	if err := d.Need("crc32c_generic"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"crc32c_generic"}; !slices.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
}

func TestOnDemandFailureStaysPending(t *testing.T) {
	var got []string
	d := NewOnDemand(recordLoads(&got, "ext4"), []string{"ext4"}, logrus.NewEntry(logrus.New()))

	err := d.Need("ext4")
	if err == nil {
		t.Fatal("Need succeeded although ext4 failed to load")
	}
	if pending := d.Pending(); !slices.Equal(pending, []string{"ext4"}) {
		t.Errorf("pending %v after the failure, want [ext4]", pending)
	}
}

func TestOnDemandNil(t *testing.T) {
	var d *OnDemand
	if err := d.Need("9p"); err != nil {
		t.Errorf("Need on nil = %v, want nil", err)
	}
	if pending := d.Pending(); pending != nil {
		t.Errorf("Pending on nil = %v, want nil", pending)
	}
}
