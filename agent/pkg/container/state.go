package container

// State is the lifecycle state of a container.
type State int

// The transitions are Created -> Running (StartContainer), Created or
// Running -> Stopped (the init process exited). Remove is allowed in every
// state.
const (
	Created State = iota + 1
	Running
	Stopped
)

func (s State) String() string {
	switch s {
	case Created:
		return "created"
	case Running:
		return "running"
	case Stopped:
		return "stopped"
	default:
		return "unknown"
	}
}
