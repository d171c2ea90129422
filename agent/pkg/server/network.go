package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/types"
)

// netModules are the listed kernel modules that the guest's network
// interfaces need: the devices appear only once the driver is loaded.
var netModules = []string{"virtio_net"}

// loadNetModules loads netModules on the first network request.
func (s *Service) loadNetModules() error {
	return s.cfg.OnDemand.Need(netModules...)
}

// UpdateInterface configures one interface of the guest.
func (s *Service) UpdateInterface(ctx context.Context, req *grpc.UpdateInterfaceRequest) (*types.Interface, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("UpdateInterface")
	}
	if err := s.loadNetModules(); err != nil {
		return nil, err
	}
	return s.cfg.Network.UpdateInterface(req.Interface)
}

// UpdateRoutes replaces the routes of the interfaces the request names.
func (s *Service) UpdateRoutes(ctx context.Context, req *grpc.UpdateRoutesRequest) (*grpc.Routes, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("UpdateRoutes")
	}
	if err := s.loadNetModules(); err != nil {
		return nil, err
	}
	var routes []*types.Route
	if req.Routes != nil {
		routes = req.Routes.Routes
	}
	got, err := s.cfg.Network.UpdateRoutes(routes)
	if err != nil {
		return nil, err
	}
	return &grpc.Routes{Routes: got}, nil
}

// ListInterfaces returns the guest's interfaces.
func (s *Service) ListInterfaces(ctx context.Context, req *grpc.ListInterfacesRequest) (*grpc.Interfaces, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("ListInterfaces")
	}
	if err := s.loadNetModules(); err != nil {
		return nil, err
	}
	ifaces, err := s.cfg.Network.ListInterfaces()
	if err != nil {
		return nil, err
	}
	return &grpc.Interfaces{Interfaces: ifaces}, nil
}

// ListRoutes returns the guest's routes.
func (s *Service) ListRoutes(ctx context.Context, req *grpc.ListRoutesRequest) (*grpc.Routes, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("ListRoutes")
	}
	if err := s.loadNetModules(); err != nil {
		return nil, err
	}
	routes, err := s.cfg.Network.ListRoutes()
	if err != nil {
		return nil, err
	}
	return &grpc.Routes{Routes: routes}, nil
}

// AddARPNeighbors adds static neighbour entries.
func (s *Service) AddARPNeighbors(ctx context.Context, req *grpc.AddARPNeighborsRequest) (*emptypb.Empty, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("AddARPNeighbors")
	}
	if err := s.loadNetModules(); err != nil {
		return empty, err
	}
	var neighbors []*types.ARPNeighbor
	if req.Neighbors != nil {
		neighbors = req.Neighbors.ARPNeighbors
	}
	return empty, s.cfg.Network.AddARPNeighbors(neighbors)
}
