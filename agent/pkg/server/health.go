package server

import (
	"context"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// Check reports that the agent serves requests.
func (s *Service) Check(context.Context, *grpc.CheckRequest) (*grpc.HealthCheckResponse, error) {
	return &grpc.HealthCheckResponse{Status: grpc.HealthCheckResponse_SERVING}, nil
}

// Version reports the API and agent versions.
func (s *Service) Version(context.Context, *grpc.CheckRequest) (*grpc.VersionCheckResponse, error) {
	return &grpc.VersionCheckResponse{GrpcVersion: APIVersion, AgentVersion: s.cfg.Version}, nil
}
