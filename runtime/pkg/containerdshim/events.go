package containerdshim

import (
	"context"
	"sync"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/runtime"
	"github.com/containerd/containerd/runtime/v2/shim"
	"github.com/sirupsen/logrus"
)

// eventForwarder publishes task events to containerd in the order they
// happen, from one goroutine. A slow containerd blocks a task call only once
// eventQueueLen events wait.
type eventForwarder struct {
	ctx       context.Context
	publisher shim.Publisher
	log       *logrus.Entry
	queue     chan interface{}
	done      chan struct{}

	// mu guards closed, so that no event is sent on a closed queue.
	mu     sync.Mutex
	closed bool
}

// eventQueueLen bounds the events waiting for containerd.
const eventQueueLen = 128

func newEventForwarder(ctx context.Context, publisher shim.Publisher, log *logrus.Entry) *eventForwarder {
	f := &eventForwarder{
		ctx:       ctx,
		publisher: publisher,
		log:       log,
		queue:     make(chan interface{}, eventQueueLen),
		done:      make(chan struct{}),
	}
	go f.run()
	return f
}

// send queues event; events sent after close are logged and dropped.
func (f *eventForwarder) send(event interface{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		f.log.WithField("topic", eventTopic(event)).Warn("event after shutdown dropped")
		return
	}
	f.queue <- event
}

// close publishes the queued events and stops, waiting at most timeout.
func (f *eventForwarder) close(timeout time.Duration) {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		close(f.queue)
	}
	f.mu.Unlock()

	select {
	case <-f.done:
	case <-time.After(timeout):
		f.log.Warn("events still unpublished at shutdown")
	}
}

// run publishes the queued events, then closes the publisher once close has
// closed the queue. containerd's shim.Run waits up to 5 s for the publisher
// to close before the shim process exits, so an open publisher delays the
// exit of every shim by 5 s.
func (f *eventForwarder) run() {
	defer close(f.done)
	for e := range f.queue {
		topic := eventTopic(e)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), 5*time.Second)
		if err := f.publisher.Publish(ctx, topic, e); err != nil {
			f.log.WithError(err).WithField("topic", topic).Error("publishing event")
		}
		cancel()
	}
	if err := f.publisher.Close(); err != nil {
		f.log.WithError(err).Warn("failed to close the event publisher")
	}
}

// eventTopic returns containerd's topic for a task event.
func eventTopic(e interface{}) string {
	switch e.(type) {
	case *eventstypes.TaskCreate:
		return runtime.TaskCreateEventTopic
	case *eventstypes.TaskStart:
		return runtime.TaskStartEventTopic
	case *eventstypes.TaskExit:
		return runtime.TaskExitEventTopic
	case *eventstypes.TaskDelete:
		return runtime.TaskDeleteEventTopic
	case *eventstypes.TaskExecAdded:
		return runtime.TaskExecAddedEventTopic
	case *eventstypes.TaskExecStarted:
		return runtime.TaskExecStartedEventTopic
	case *eventstypes.TaskPaused:
		return runtime.TaskPausedEventTopic
	case *eventstypes.TaskResumed:
		return runtime.TaskResumedEventTopic
	case *eventstypes.TaskOOM:
		return runtime.TaskOOMEventTopic
	default:
		return runtime.TaskUnknownTopic
	}
}
