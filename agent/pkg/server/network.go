package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
	"github.com/kata-riscv64/kata-riscv64/agent/protocols/types"
)

// UpdateInterface configures one interface of the guest.
func (s *Service) UpdateInterface(ctx context.Context, req *grpc.UpdateInterfaceRequest) (*types.Interface, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("UpdateInterface")
	}
	return s.cfg.Network.UpdateInterface(req.Interface)
}

// UpdateRoutes replaces the routes of the interfaces the request names.
func (s *Service) UpdateRoutes(ctx context.Context, req *grpc.UpdateRoutesRequest) (*grpc.Routes, error) {
	if s.cfg.Network == nil {
		return nil, unimplemented("UpdateRoutes")
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
	var neighbors []*types.ARPNeighbor
	if req.Neighbors != nil {
		neighbors = req.Neighbors.ARPNeighbors
	}
	return empty, s.cfg.Network.AddARPNeighbors(neighbors)
}
