package main

import (
	"github.com/sirupsen/logrus"

	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/check"
	"github.com/kata-riscv64/kata-riscv64/runtime/pkg/config"
)

// loadCheckInput loads the configuration the checks hold the host against.
// The load is lenient, so that configured files that do not exist become
// findings of the report instead of stopping it. Without a usable
// configuration the input carries the error, and the host checks still run.
func loadCheckInput(explicit string, log *logrus.Entry) check.Input {
	cfg, err := config.Loader{Lenient: true, Log: log}.Load(explicit)
	if err != nil {
		return check.Input{ConfigPath: explicit, ConfigErr: err}
	}

	in := check.Input{
		ConfigPath:     cfg.Path,
		HypervisorType: cfg.HypervisorType,
		Hypervisor:     &cfg.Hypervisor,
		Agent:          &cfg.Agent,
	}
	for _, p := range cfg.MissingFiles {
		in.MissingFiles = append(in.MissingFiles, check.ConfigProblem{
			Key: p.Key, Value: p.Value, Reason: p.Reason, Fix: p.Fix,
		})
	}
	return in
}
