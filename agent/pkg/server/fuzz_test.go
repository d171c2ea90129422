package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/kata-riscv64/kata-riscv64/agent/protocols/grpc"
)

// fuzzMethod decodes a request and calls one handler.
type fuzzMethod struct {
	name string
	call func(ctx context.Context, s *Service, data []byte) error
}

// handler adapts a typed handler: the request is decoded from data with
// proto.Unmarshal, and input that does not decode is skipped.
func handler[Req proto.Message, Resp any](name string, newReq func() Req, prepare func(Req), h func(*Service, context.Context, Req) (Resp, error)) fuzzMethod {
	return fuzzMethod{name: name, call: func(ctx context.Context, s *Service, data []byte) error {
		req := newReq()
		if err := proto.Unmarshal(data, req); err != nil {
			return nil
		}
		if prepare != nil {
			prepare(req)
		}
		_, err := h(s, ctx, req)
		return err
	}}
}

// fuzzMethods lists the handlers the fuzz target calls. Fields that would
// change the host running the test (mounts, kernel modules, the clock, the
// container rootfs bind mount, child processes) are cleared after decoding. The integration
// test covers those paths with real requests.
var fuzzMethods = []fuzzMethod{
	handler("CreateSandbox", func() *grpc.CreateSandboxRequest { return &grpc.CreateSandboxRequest{} },
		func(r *grpc.CreateSandboxRequest) {
			r.Storages, r.KernelModules, r.Hostname, r.GuestHookPath = nil, nil, "", ""
			// The PID namespace holder is a child process of the test binary.
			r.SandboxPidns = false
		},
		(*Service).CreateSandbox),
	handler("CreateContainer", func() *grpc.CreateContainerRequest { return &grpc.CreateContainerRequest{} },
		func(r *grpc.CreateContainerRequest) {
			r.Storages = nil
			if r.OCI != nil {
				r.OCI.Root = nil
			}
		},
		(*Service).CreateContainer),
	handler("StartContainer", func() *grpc.StartContainerRequest { return &grpc.StartContainerRequest{} }, nil, (*Service).StartContainer),
	handler("RemoveContainer", func() *grpc.RemoveContainerRequest { return &grpc.RemoveContainerRequest{} }, nil, (*Service).RemoveContainer),
	handler("ExecProcess", func() *grpc.ExecProcessRequest { return &grpc.ExecProcessRequest{} }, nil, (*Service).ExecProcess),
	handler("SignalProcess", func() *grpc.SignalProcessRequest { return &grpc.SignalProcessRequest{} }, nil, (*Service).SignalProcess),
	handler("WaitProcess", func() *grpc.WaitProcessRequest { return &grpc.WaitProcessRequest{} }, nil, (*Service).WaitProcess),
	handler("UpdateContainer", func() *grpc.UpdateContainerRequest { return &grpc.UpdateContainerRequest{} }, nil, (*Service).UpdateContainer),
	handler("StatsContainer", func() *grpc.StatsContainerRequest { return &grpc.StatsContainerRequest{} }, nil, (*Service).StatsContainer),
	handler("WriteStdin", func() *grpc.WriteStreamRequest { return &grpc.WriteStreamRequest{} }, nil, (*Service).WriteStdin),
	handler("ReadStdout", func() *grpc.ReadStreamRequest { return &grpc.ReadStreamRequest{} }, nil, (*Service).ReadStdout),
	handler("ReadStderr", func() *grpc.ReadStreamRequest { return &grpc.ReadStreamRequest{} }, nil, (*Service).ReadStderr),
	handler("CloseStdin", func() *grpc.CloseStdinRequest { return &grpc.CloseStdinRequest{} }, nil, (*Service).CloseStdin),
	handler("TtyWinResize", func() *grpc.TtyWinResizeRequest { return &grpc.TtyWinResizeRequest{} }, nil, (*Service).TtyWinResize),
	handler("UpdateInterface", func() *grpc.UpdateInterfaceRequest { return &grpc.UpdateInterfaceRequest{} }, nil, (*Service).UpdateInterface),
	handler("UpdateRoutes", func() *grpc.UpdateRoutesRequest { return &grpc.UpdateRoutesRequest{} }, nil, (*Service).UpdateRoutes),
	handler("GetGuestDetails", func() *grpc.GuestDetailsRequest { return &grpc.GuestDetailsRequest{} }, nil, (*Service).GetGuestDetails),
	handler("OnlineCPUMem", func() *grpc.OnlineCPUMemRequest { return &grpc.OnlineCPUMemRequest{} },
		func(r *grpc.OnlineCPUMemRequest) { r.Wait = true },
		(*Service).OnlineCPUMem),
	handler("MemHotplugByProbe", func() *grpc.MemHotplugByProbeRequest { return &grpc.MemHotplugByProbeRequest{} }, nil, (*Service).MemHotplugByProbe),
	handler("GetMetrics", func() *grpc.GetMetricsRequest { return &grpc.GetMetricsRequest{} }, nil, (*Service).GetMetrics),
	handler("Check", func() *grpc.CheckRequest { return &grpc.CheckRequest{} }, nil, (*Service).Check),
	handler("DestroySandbox", func() *grpc.DestroySandboxRequest { return &grpc.DestroySandboxRequest{} }, nil, (*Service).DestroySandbox),
}

// FuzzHandlers decodes arbitrary bytes into the request of the handler
// that the first byte selects and calls it; any panic fails the fuzz run.
func FuzzHandlers(f *testing.F) {
	seeds := []proto.Message{
		&grpc.CreateSandboxRequest{SandboxId: "sb", Dns: []string{"nameserver 10.0.0.1"}},
		&grpc.CreateContainerRequest{ContainerId: "c1", OCI: &grpc.Spec{Process: &grpc.Process{Args: []string{"true"}}}},
		&grpc.StartContainerRequest{ContainerId: "../c1"},
		&grpc.RemoveContainerRequest{ContainerId: "c1", Timeout: 1},
		&grpc.ExecProcessRequest{ContainerId: "c1", ExecId: "e1", Process: &grpc.Process{Terminal: true}},
		&grpc.SignalProcessRequest{ContainerId: "c1", Signal: 9},
		&grpc.WaitProcessRequest{ContainerId: "c1", ExecId: "e1"},
		&grpc.UpdateContainerRequest{ContainerId: "c1", Resources: &grpc.LinuxResources{Memory: &grpc.LinuxMemory{Limit: -1}}},
		&grpc.StatsContainerRequest{ContainerId: "c1"},
		&grpc.WriteStreamRequest{ContainerId: "c1", Data: []byte("x")},
		&grpc.ReadStreamRequest{ContainerId: "c1", Len: 1 << 31},
		&grpc.ReadStreamRequest{ContainerId: "c1", ExecId: "e1"},
		&grpc.CloseStdinRequest{ContainerId: "c1"},
		&grpc.TtyWinResizeRequest{ContainerId: "c1", Row: 1 << 20},
		&grpc.UpdateInterfaceRequest{},
		&grpc.UpdateRoutesRequest{Routes: &grpc.Routes{}},
		&grpc.GuestDetailsRequest{MemBlockSize: true, MemHotplugProbe: true},
		&grpc.OnlineCPUMemRequest{NbCpus: 4},
		&grpc.MemHotplugByProbeRequest{MemHotplugProbeAddr: []uint64{1 << 30}},
		&grpc.GetMetricsRequest{},
		&grpc.CheckRequest{},
		&grpc.DestroySandboxRequest{},
	}
	for i, seed := range seeds {
		data, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(i), data)
	}

	s := newTestService(f)
	f.Fuzz(func(t *testing.T, selector byte, data []byte) {
		m := fuzzMethods[int(selector)%len(fuzzMethods)]
		// Handlers that wait (WaitProcess, OnlineCPUMem with wait) end
		// with the context.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_ = m.call(ctx, s, data)
	})
}
