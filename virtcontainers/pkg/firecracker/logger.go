package firecracker

import "context"

// LogLevel is the swagger Logger.level enum.
type LogLevel string

// Firecracker's log levels.
const (
	LogError   LogLevel = "Error"
	LogWarning LogLevel = "Warning"
	LogInfo    LogLevel = "Info"
	LogDebug   LogLevel = "Debug"
	LogTrace   LogLevel = "Trace"
	LogOff     LogLevel = "Off"
)

// Logger is the swagger Logger object. LogPath must exist (a file or a named
// pipe) when the request is sent: Firecracker opens it, it does not create it.
type Logger struct {
	LogPath       string   `json:"log_path"`
	Level         LogLevel `json:"level,omitempty"`
	ShowLevel     bool     `json:"show_level"`
	ShowLogOrigin bool     `json:"show_log_origin"`
}

// PutLogger sends Firecracker's own log to LogPath.
func (c *Client) PutLogger(ctx context.Context, l Logger) error {
	return c.do(ctx, "PUT", "/logger", l, nil)
}
