package monitor

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criTimeout bounds one ListPodSandbox call.
const criTimeout = 5 * time.Second

// minPodRefreshGap is the shortest time between two CRI refreshes that new
// sandboxes trigger, so a burst of pod starts costs one call.
const minPodRefreshGap = time.Second

// podMetadata is a pod's CRI PodSandboxMetadata, which kata-monitor adds to
// the pod's metrics as cri_uid, cri_name and cri_namespace.
type podMetadata struct {
	uid, name, namespace string
}

// podCache keeps the pod metadata of the container manager's CRI
// RuntimeService, keyed by pod sandbox id, which is also the Kata sandbox id.
// When the endpoint is missing or does not serve CRI, the cache stays empty
// and metrics go without pod labels.
type podCache struct {
	endpoint string
	conn     *grpc.ClientConn
	client   runtimeapi.RuntimeServiceClient
	log      *logrus.Entry
	// wake requests a refresh from run. Its buffer of one coalesces
	// requests that arrive while a refresh is pending.
	wake chan struct{}

	mu sync.RWMutex
	// pods is the last successful ListPodSandbox result. Guarded by mu.
	pods map[string]podMetadata
}

// newPodCache prepares a CRI client for endpoint, a Unix socket path or a
// unix:// URL. It does not connect: gRPC connects on the first call.
func newPodCache(endpoint string, log *logrus.Entry) (*podCache, error) {
	path, err := unixSocketPath(endpoint)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("creating the CRI client for %s: %w", endpoint, err)
	}
	return &podCache{
		endpoint: path,
		conn:     conn,
		client:   runtimeapi.NewRuntimeServiceClient(conn),
		log:      log.WithField("endpoint", path),
		wake:     make(chan struct{}, 1),
		pods:     make(map[string]podMetadata),
	}, nil
}

// unixSocketPath accepts "/path" and "unix:///path", the forms of
// kata-monitor's -runtime-endpoint flag.
func unixSocketPath(endpoint string) (string, error) {
	if strings.HasPrefix(endpoint, "/") {
		return endpoint, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return "", fmt.Errorf("invalid runtime endpoint %q: use a Unix socket path such as %s or unix://%s",
			endpoint, DefaultRuntimeEndpoint, DefaultRuntimeEndpoint)
	}
	return u.Path, nil
}

// lookup returns the metadata of pod sandbox id.
func (c *podCache) lookup(id string) (podMetadata, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.pods[id]
	return p, ok
}

// refreshSoon requests a refresh because sandbox id appeared, unless its
// metadata is already cached.
func (c *podCache) refreshSoon(id string) {
	if _, ok := c.lookup(id); ok {
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run refreshes the cache now, every interval and on refreshSoon, until ctx
// is done. A failing endpoint is logged once as a warning, then at debug
// level until it works again.
func (c *podCache) run(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()

	failing := false
	for {
		err := c.refresh(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			c.log.WithError(err).Warn("pod metadata unavailable over CRI; metrics go without cri_uid, cri_name and cri_namespace labels until it is")
		case err != nil:
			c.log.WithError(err).Debug("pod metadata still unavailable over CRI")
		case failing:
			failing = false
			c.log.Info("pod metadata available over CRI again")
		}

		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-c.wake:
			// Let the other sandboxes of a burst of pod starts show up.
			select {
			case <-ctx.Done():
				return
			case <-time.After(minPodRefreshGap):
			}
		}
	}
}

// refresh replaces the cache with the container manager's current pods.
func (c *podCache) refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, criTimeout)
	defer cancel()

	resp, err := c.client.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("CRI ListPodSandbox on %s: %w", c.endpoint, err)
	}

	pods := make(map[string]podMetadata, len(resp.GetItems()))
	for _, item := range resp.GetItems() {
		md := item.GetMetadata()
		if item.GetId() == "" || md == nil {
			continue
		}
		pods[item.GetId()] = podMetadata{uid: md.GetUid(), name: md.GetName(), namespace: md.GetNamespace()}
	}

	c.mu.Lock()
	c.pods = pods
	c.mu.Unlock()
	c.log.WithField("pods", len(pods)).Debug("pod metadata refreshed")
	return nil
}

func (c *podCache) close() {
	if err := c.conn.Close(); err != nil {
		c.log.WithError(err).Debug("closing the CRI connection")
	}
}
