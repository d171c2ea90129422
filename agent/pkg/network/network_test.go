package network

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/types"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		addr    *types.IPAddress
		want    string
		wantErr bool
	}{
		{addr: &types.IPAddress{Address: "10.0.0.2", Mask: "24"}, want: "10.0.0.2/24"},
		{addr: &types.IPAddress{Address: "10.0.0.2", Mask: "255.255.0.0"}, want: "10.0.0.2/16"},
		{addr: &types.IPAddress{Family: types.IPFamily_v6, Address: "fd00::2", Mask: "64"}, want: "fd00::2/64"},
		{addr: &types.IPAddress{Address: "10.0.0.2", Mask: "33"}, wantErr: true},
		{addr: &types.IPAddress{Address: "not-an-ip", Mask: "24"}, wantErr: true},
		{addr: nil, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseAddr(tt.addr)
		if tt.wantErr {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("parseAddr(%v) = %v, %v, want ErrInvalidArgument", tt.addr, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseAddr(%v): %v", tt.addr, err)
			continue
		}
		if got.IPNet.String() != tt.want {
			t.Errorf("parseAddr(%v) = %s, want %s", tt.addr, got.IPNet, tt.want)
		}
	}
}

// TestUpdateInterfaceAndRoutes configures a veth link in a new network
// namespace, as the runtime configures a sandbox's interface.
func TestUpdateInterfaceAndRoutes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = orig.Close() }()
	ns, err := netns.New()
	if err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	defer func() {
		_ = netns.Set(orig)
		_ = ns.Close()
	}()

	n, err := New()
	if errors.Is(err, unix.EPROTONOSUPPORT) {
		t.Skipf("needs NETLINK_ROUTE sockets, which this environment (qemu-user?) does not provide: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	// A veth pair, because kernels without the dummy module are common.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "veth0"}, PeerName: "veth1"}
	if err := n.h.LinkAdd(veth); err != nil {
		t.Skipf("cannot add a veth pair (kernel without veth support?): %v", err)
	}
	link, err := n.h.LinkByName("veth0")
	if err != nil {
		t.Fatal(err)
	}
	mac := link.Attrs().HardwareAddr.String()

	got, err := n.UpdateInterface(&types.Interface{
		Name: "eth0", HwAddr: mac, Mtu: 1400,
		IPAddresses: []*types.IPAddress{{Address: "10.88.0.2", Mask: "16"}},
	})
	if err != nil {
		t.Fatalf("UpdateInterface: %v", err)
	}
	if got.Name != "eth0" || got.Mtu != 1400 {
		t.Errorf("UpdateInterface = name %q mtu %d, want eth0 1400", got.Name, got.Mtu)
	}
	found := false
	for _, a := range got.IPAddresses {
		if a.Address == "10.88.0.2" && a.Mask == "16" {
			found = true
		}
	}
	if !found {
		t.Errorf("UpdateInterface addresses = %v, want 10.88.0.2/16", got.IPAddresses)
	}

	routes, err := n.UpdateRoutes([]*types.Route{{Dest: "", Gateway: "10.88.0.1", Device: "eth0"}})
	if err != nil {
		t.Fatalf("UpdateRoutes: %v", err)
	}
	hasDefault := false
	for _, r := range routes {
		if r.Dest == "" && r.Gateway == "10.88.0.1" && r.Device == "eth0" {
			hasDefault = true
		}
	}
	if !hasDefault {
		t.Errorf("UpdateRoutes = %v, want a default route via 10.88.0.1 on eth0", routes)
	}

	err = n.AddARPNeighbors([]*types.ARPNeighbor{{ToIPAddress: &types.IPAddress{Address: "10.88.0.1"}, Device: "eth0", Lladdr: "02:00:00:00:00:01"}})
	switch {
	case errors.Is(err, unix.EOPNOTSUPP):
		// qemu-user does not translate neighbour messages.
		t.Logf("AddARPNeighbors not checked: %v", err)
	case err != nil:
		t.Errorf("AddARPNeighbors: %v", err)
	}

	if _, err := n.UpdateInterface(&types.Interface{HwAddr: "02:ff:ff:ff:ff:ff"}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("UpdateInterface of an unknown MAC = %v, want ErrNotFound", err)
	}
}
