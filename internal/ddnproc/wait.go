package ddnproc

import (
	"fmt"
	"net/http"
	"time"
)

// Eventually calls cond every `every` until it holds, and says whether it
// did before within had passed: the one polling loop of the end-to-end
// tests, each of which fails in its own words when it returns false.
func Eventually(within, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}

// ReadyAt is a readiness check for StartProcess: GET url answers 200.
func ReadyAt(client *http.Client, url string) func() error {
	return func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
