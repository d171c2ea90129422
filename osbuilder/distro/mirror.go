package distro

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CheckMirror fetches the suite's InRelease file so that an unreachable or
// wrong mirror fails in seconds with its name, instead of deep inside apt.
// Mirrors that are not HTTP (file://, copy://) are left to apt.
func CheckMirror(ctx context.Context, client *http.Client, mirror, suite string) error {
	if !strings.HasPrefix(mirror, "http://") && !strings.HasPrefix(mirror, "https://") {
		return nil
	}
	url := strings.TrimSuffix(mirror, "/") + "/dists/" + suite + "/InRelease"
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return fmt.Errorf("invalid mirror %q: %w; pass a URL such as http://deb.debian.org/debian with --mirror", mirror, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("mirror %s is unreachable: %w; pass another with --mirror", mirror, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mirror %s has no suite %s (%s returned %s); pass another with --mirror or --suite",
			mirror, suite, url, resp.Status)
	}
	return nil
}
