package rootfs

import (
	"net/http"
	"time"
)

func httpClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second}
}
