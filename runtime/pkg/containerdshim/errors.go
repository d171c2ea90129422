package containerdshim

import (
	"errors"
	"fmt"

	"github.com/containerd/containerd/errdefs"
	"google.golang.org/grpc/status"

	vc "github.com/kata-riscv64/kata-riscv64/virtcontainers"
)

func notFound(format string, args ...interface{}) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrNotFound)...)
}

func failedPrecondition(format string, args ...interface{}) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrFailedPrecondition)...)
}

func invalidArgument(format string, args ...interface{}) error {
	return fmt.Errorf(format+": %w", append(args, errdefs.ErrInvalidArgument)...)
}

// toTTRPC converts err to the status error containerd decodes, at the edge
// of every task call. Errors that already carry a status (the agent's) keep
// it; this package's and virtcontainers' sentinels map to their codes.
func toTTRPC(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}

	switch {
	case errors.Is(err, vc.ErrContainerNotFound):
		err = fmt.Errorf("%w: %w", err, errdefs.ErrNotFound)
	case errors.Is(err, vc.ErrContainerExists):
		err = fmt.Errorf("%w: %w", err, errdefs.ErrAlreadyExists)
	case errors.Is(err, vc.ErrInvalidID), errors.Is(err, vc.ErrRootfsNotFound):
		err = fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument)
	case errors.Is(err, vc.ErrNotSupported), errors.Is(err, vc.ErrNoSharedFilesystem):
		err = fmt.Errorf("%w: %w", err, errdefs.ErrNotImplemented)
	}
	return errdefs.ToGRPC(err)
}
