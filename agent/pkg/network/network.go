// Package network configures the guest's interfaces, routes and ARP
// neighbours with netlink, as the runtime requests after it has attached the
// sandbox's network devices.
package network

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kata-riscv64/kata-riscv64/agent/pkg/errdefs"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/types"
)

// Network works on one network namespace through a netlink handle.
type Network struct {
	h *netlink.Handle
}

// New returns a Network for the agent's own network namespace.
func New() (*Network, error) {
	// Only NETLINK_ROUTE: without arguments the handle also opens XFRM and
	// netfilter sockets, which fail with EPROTONOSUPPORT on kernels that
	// build those as modules, as Debian's riscv64 kernel does.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening a netlink socket: %w", err)
	}
	return &Network{h: h}, nil
}

// Close releases the netlink socket.
func (n *Network) Close() { n.h.Close() }

// findLink finds the interface by MAC address, which the runtime takes from
// the device it attached, or else by name.
func (n *Network) findLink(iface *types.Interface) (netlink.Link, error) {
	links, err := n.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		if iface.HwAddr != "" && strings.EqualFold(l.Attrs().HardwareAddr.String(), iface.HwAddr) {
			return l, nil
		}
	}
	for _, l := range links {
		if iface.HwAddr == "" && iface.Name != "" && l.Attrs().Name == iface.Name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("interface with MAC %q or name %q: %w", iface.HwAddr, iface.Name, errdefs.ErrNotFound)
}

// UpdateInterface renames the interface, sets its MTU and addresses and
// brings it up, then returns its resulting configuration.
func (n *Network) UpdateInterface(iface *types.Interface) (*types.Interface, error) {
	if iface == nil {
		return nil, fmt.Errorf("interface is nil: %w", errdefs.ErrInvalidArgument)
	}
	addrs := make([]*netlink.Addr, 0, len(iface.IPAddresses))
	for _, a := range iface.IPAddresses {
		addr, err := parseAddr(a)
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addr)
	}

	link, err := n.findLink(iface)
	if err != nil {
		return nil, err
	}
	name := link.Attrs().Name

	if err := n.h.LinkSetDown(link); err != nil {
		return nil, fmt.Errorf("setting %s down: %w", name, err)
	}
	if iface.Name != "" && iface.Name != name {
		if err := n.h.LinkSetName(link, iface.Name); err != nil {
			return nil, fmt.Errorf("renaming %s to %s: %w", name, iface.Name, err)
		}
		name = iface.Name
	}
	if iface.Mtu > 0 {
		if err := n.h.LinkSetMTU(link, int(iface.Mtu)); err != nil {
			return nil, fmt.Errorf("setting MTU %d on %s: %w", iface.Mtu, name, err)
		}
	}

	old, err := n.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	for i := range old {
		if old[i].IP.IsLinkLocalUnicast() {
			continue
		}
		if err := n.h.AddrDel(link, &old[i]); err != nil {
			return nil, fmt.Errorf("removing address %s from %s: %w", old[i].IPNet, name, err)
		}
	}
	for _, addr := range addrs {
		if err := n.h.AddrReplace(link, addr); err != nil {
			return nil, fmt.Errorf("adding address %s to %s: %w", addr.IPNet, name, err)
		}
	}
	if err := n.h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("setting %s up: %w", name, err)
	}

	link, err = n.h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("reading back %s: %w", name, err)
	}
	return n.describe(link)
}

// ListInterfaces returns every interface with its addresses.
func (n *Network) ListInterfaces() ([]*types.Interface, error) {
	links, err := n.h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	out := make([]*types.Interface, 0, len(links))
	for _, l := range links {
		iface, err := n.describe(l)
		if err != nil {
			return nil, err
		}
		out = append(out, iface)
	}
	return out, nil
}

func (n *Network) describe(link netlink.Link) (*types.Interface, error) {
	attrs := link.Attrs()
	iface := &types.Interface{
		Name:     attrs.Name,
		Device:   attrs.Name,
		Mtu:      uint64(attrs.MTU),
		HwAddr:   attrs.HardwareAddr.String(),
		Type:     link.Type(),
		RawFlags: attrs.RawFlags,
	}
	addrs, err := n.h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses of %s: %w", attrs.Name, err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		family := types.IPFamily_v4
		if a.IP.To4() == nil {
			family = types.IPFamily_v6
		}
		iface.IPAddresses = append(iface.IPAddresses, &types.IPAddress{Family: family, Address: a.IP.String(), Mask: fmt.Sprint(ones)})
	}
	return iface, nil
}

// parseAddr accepts the mask as a prefix length ("24") or a dotted mask.
func parseAddr(a *types.IPAddress) (*netlink.Addr, error) {
	if a == nil {
		return nil, fmt.Errorf("IP address is nil: %w", errdefs.ErrInvalidArgument)
	}
	ip := net.ParseIP(a.Address)
	if ip == nil {
		return nil, fmt.Errorf("invalid IP address %q: %w", a.Address, errdefs.ErrInvalidArgument)
	}
	bits := 128
	if ip.To4() != nil {
		ip = ip.To4()
		bits = 32
	}
	var mask net.IPMask
	if m := net.ParseIP(a.Mask); m != nil && ip.To4() != nil {
		mask = net.IPMask(m.To4())
	} else {
		var ones int
		if _, err := fmt.Sscanf(a.Mask, "%d", &ones); err != nil || ones < 0 || ones > bits {
			return nil, fmt.Errorf("invalid mask %q for %s: %w", a.Mask, a.Address, errdefs.ErrInvalidArgument)
		}
		mask = net.CIDRMask(ones, bits)
	}
	return &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: mask}}, nil
}

// UpdateRoutes replaces the routes of the interfaces that routes name with
// routes, and returns the resulting routes. Routes the kernel added for the
// interfaces' own addresses stay.
func (n *Network) UpdateRoutes(routes []*types.Route) ([]*types.Route, error) {
	parsed := make([]*netlink.Route, 0, len(routes))
	links := make(map[string]netlink.Link)
	for _, r := range routes {
		if r == nil {
			return nil, fmt.Errorf("route is nil: %w", errdefs.ErrInvalidArgument)
		}
		link, ok := links[r.Device]
		if !ok {
			l, err := n.h.LinkByName(r.Device)
			if err != nil {
				return nil, fmt.Errorf("route to %q: device %q: %w", r.Dest, r.Device, errors.Join(errdefs.ErrNotFound, err))
			}
			link = l
			links[r.Device] = l
		}
		nr, err := toNetlinkRoute(r, link.Attrs().Index)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, nr)
	}

	for name, link := range links {
		existing, err := n.h.RouteList(link, netlink.FAMILY_ALL)
		if err != nil {
			return nil, fmt.Errorf("listing routes of %s: %w", name, err)
		}
		for i := range existing {
			if existing[i].Protocol == unix.RTPROT_KERNEL {
				continue
			}
			if err := n.h.RouteDel(&existing[i]); err != nil {
				return nil, fmt.Errorf("removing route %s of %s: %w", existing[i].Dst, name, err)
			}
		}
	}
	// Routes with a gateway need the route to the gateway first: add the
	// link-scope routes before the others.
	for _, pass := range []bool{true, false} {
		for _, nr := range parsed {
			if (nr.Gw == nil) != pass {
				continue
			}
			if err := n.h.RouteReplace(nr); err != nil {
				return nil, fmt.Errorf("adding route %v via %v: %w", nr.Dst, nr.Gw, err)
			}
		}
	}
	return n.ListRoutes()
}

func toNetlinkRoute(r *types.Route, index int) (*netlink.Route, error) {
	nr := &netlink.Route{LinkIndex: index, Scope: netlink.Scope(r.Scope), Flags: int(r.Flags), MTU: int(r.Mtu)}
	if r.Dest != "" && r.Dest != "default" {
		_, dst, err := net.ParseCIDR(r.Dest)
		if err != nil {
			ip := net.ParseIP(r.Dest)
			if ip == nil {
				return nil, fmt.Errorf("invalid route destination %q: %w", r.Dest, errdefs.ErrInvalidArgument)
			}
			bits := 128
			if ip.To4() != nil {
				bits = 32
			}
			dst = &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}
		}
		nr.Dst = dst
	}
	if r.Gateway != "" {
		if nr.Gw = net.ParseIP(r.Gateway); nr.Gw == nil {
			return nil, fmt.Errorf("invalid gateway %q: %w", r.Gateway, errdefs.ErrInvalidArgument)
		}
	}
	if r.Source != "" {
		if nr.Src = net.ParseIP(r.Source); nr.Src == nil {
			return nil, fmt.Errorf("invalid route source %q: %w", r.Source, errdefs.ErrInvalidArgument)
		}
	}
	return nr, nil
}

// ListRoutes returns the routes of every interface.
func (n *Network) ListRoutes() ([]*types.Route, error) {
	routes, err := n.h.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing routes: %w", err)
	}
	out := make([]*types.Route, 0, len(routes))
	for _, r := range routes {
		tr := &types.Route{Scope: uint32(r.Scope), Flags: uint32(r.Flags), Mtu: uint32(r.MTU)}
		// A default route has an empty destination in the protocol.
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 || !r.Dst.IP.IsUnspecified() {
				tr.Dest = r.Dst.String()
			}
		}
		if r.Gw != nil {
			tr.Gateway = r.Gw.String()
		}
		if r.Src != nil {
			tr.Source = r.Src.String()
		}
		if r.Family == unix.AF_INET6 {
			tr.Family = types.IPFamily_v6
		}
		if link, err := n.h.LinkByIndex(r.LinkIndex); err == nil {
			tr.Device = link.Attrs().Name
		}
		out = append(out, tr)
	}
	return out, nil
}

// AddARPNeighbors adds static neighbour entries.
func (n *Network) AddARPNeighbors(neighbors []*types.ARPNeighbor) error {
	for _, nb := range neighbors {
		if nb == nil || nb.ToIPAddress == nil {
			return fmt.Errorf("ARP neighbour without an address: %w", errdefs.ErrInvalidArgument)
		}
		ip := net.ParseIP(nb.ToIPAddress.Address)
		if ip == nil {
			return fmt.Errorf("invalid neighbour address %q: %w", nb.ToIPAddress.Address, errdefs.ErrInvalidArgument)
		}
		mac, err := net.ParseMAC(nb.Lladdr)
		if err != nil {
			return fmt.Errorf("invalid neighbour MAC %q: %w", nb.Lladdr, errors.Join(errdefs.ErrInvalidArgument, err))
		}
		link, err := n.h.LinkByName(nb.Device)
		if err != nil {
			return fmt.Errorf("neighbour %s: device %q: %w", ip, nb.Device, errors.Join(errdefs.ErrNotFound, err))
		}
		neigh := &netlink.Neigh{LinkIndex: link.Attrs().Index, IP: ip, HardwareAddr: mac, State: int(nb.State), Flags: int(nb.Flags)}
		if neigh.State == 0 {
			neigh.State = netlink.NUD_PERMANENT
		}
		if err := n.h.NeighSet(neigh); err != nil {
			return fmt.Errorf("adding neighbour %s on %s: %w", ip, nb.Device, err)
		}
	}
	return nil
}

// SetLoopbackUp brings lo up, which no init system does when the agent is
// PID 1.
func (n *Network) SetLoopbackUp() error {
	lo, err := n.h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding the loopback interface: %w", err)
	}
	if err := n.h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("setting lo up: %w", err)
	}
	return nil
}
