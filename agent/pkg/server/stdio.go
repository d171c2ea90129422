package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// WriteStdin writes to the standard input of a process.
func (s *Service) WriteStdin(ctx context.Context, req *grpc.WriteStreamRequest) (*grpc.WriteStreamResponse, error) {
	p, err := s.process(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	n, err := p.WriteStdin(req.Data)
	if err != nil {
		return nil, err
	}
	return &grpc.WriteStreamResponse{Len: uint32(n)}, nil
}

// ReadStdout reads the output of a process; at the end it fails with the
// end-of-stream status (client.IsEOF).
func (s *Service) ReadStdout(ctx context.Context, req *grpc.ReadStreamRequest) (*grpc.ReadStreamResponse, error) {
	p, err := s.process(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	data, err := p.ReadStdout(ctx, req.Len)
	if err != nil {
		return nil, err
	}
	return &grpc.ReadStreamResponse{Data: data}, nil
}

// ReadStderr reads the error output of a process, like ReadStdout.
func (s *Service) ReadStderr(ctx context.Context, req *grpc.ReadStreamRequest) (*grpc.ReadStreamResponse, error) {
	p, err := s.process(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	data, err := p.ReadStderr(ctx, req.Len)
	if err != nil {
		return nil, err
	}
	return &grpc.ReadStreamResponse{Data: data}, nil
}

// CloseStdin closes the standard input of a process.
func (s *Service) CloseStdin(ctx context.Context, req *grpc.CloseStdinRequest) (*emptypb.Empty, error) {
	p, err := s.process(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	return empty, p.CloseStdin()
}

// TtyWinResize resizes the terminal of a process.
func (s *Service) TtyWinResize(ctx context.Context, req *grpc.TtyWinResizeRequest) (*emptypb.Empty, error) {
	p, err := s.process(req.ContainerId, req.ExecId)
	if err != nil {
		return nil, err
	}
	return empty, p.Resize(req.Row, req.Column)
}
