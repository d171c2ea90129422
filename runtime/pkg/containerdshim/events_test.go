package containerdshim

import (
	"context"
	"sync"
	"testing"
	"time"

	eventstypes "github.com/containerd/containerd/api/events"
	"github.com/containerd/containerd/events"
	"github.com/containerd/containerd/runtime"
	"github.com/sirupsen/logrus"
)

// recordingPublisher records the topics it publishes and whether it was
// closed, as shim.Run's publisher to containerd would see them.
type recordingPublisher struct {
	mu     sync.Mutex
	topics []string
	closed bool
	// publishedAfterClose counts events published after Close.
	publishedAfterClose int
}

func (p *recordingPublisher) Publish(_ context.Context, topic string, _ events.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.publishedAfterClose++
	}
	p.topics = append(p.topics, topic)
	return nil
}

func (p *recordingPublisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func TestEventForwarderClosesPublisherAfterQueue(t *testing.T) {
	pub := &recordingPublisher{}
	f := newEventForwarder(context.Background(), pub, logrus.NewEntry(logrus.New()))
	f.send(&eventstypes.TaskCreate{ContainerID: "c1"})
	f.send(&eventstypes.TaskDelete{ContainerID: "c1"})

	start := time.Now()
	f.close(5 * time.Second)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("close took %s, want the queue drained at once", elapsed)
	}

	pub.mu.Lock()
	defer pub.mu.Unlock()
	want := []string{runtime.TaskCreateEventTopic, runtime.TaskDeleteEventTopic}
	if len(pub.topics) != len(want) || pub.topics[0] != want[0] || pub.topics[1] != want[1] {
		t.Errorf("published topics %v, want %v", pub.topics, want)
	}
	if !pub.closed {
		t.Error("the publisher is still open after close, so shim.Run would wait 5 s for it")
	}
	if pub.publishedAfterClose != 0 {
		t.Errorf("%d events were published after the publisher was closed", pub.publishedAfterClose)
	}
}
