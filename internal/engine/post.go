package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// EventTimeout bounds one POST of an event (internal/notify): the http
// step's default attempt timeout.
const EventTimeout = 10 * time.Second

// PostEvent sends one event POST (a run's notification) with every rule of
// an http step's requests: the outbound policy (checked on the host before
// anything is resolved, and again on every address dialled and every
// redirect), EventTimeout, the request bounds (the body at most 256 KiB)
// and at most MaxOutputBytes of the answer read. It answers the status of a
// 2xx answer; any other end is a *StepError: the status (with its
// Retry-After, from any status, since a receiver that sends one says when
// to come back), a timeout, a refused target, or an unreachable one.
func (e *Engine) PostEvent(ctx context.Context, rawURL string, header http.Header, body []byte) (int, error) {
	if len(body) > maxRequestBodyBytes {
		return 0, requestTooLarge("the event's body", maxRequestBodyBytes)
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return 0, &StepError{Code: CodeTargetRefused, Message: "the notify URL is not an absolute http or https URL"}
	}
	if err := e.opts.Policy.checkHost(u.Hostname()); err != nil {
		return 0, refused(err)
	}
	attemptCtx, cancel := context.WithTimeout(ctx, EventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, &StepError{Code: CodeTargetRefused, Message: "the notify URL makes no request"}
	}
	for name, values := range header {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if err := checkHeaderSizes(req.Header); err != nil {
		return 0, err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, classifyError(ctx, err, u.Host)
	}
	defer resp.Body.Close()
	// Read (to a bound) so the connection is kept for the next event.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, int64(e.opts.MaxOutputBytes)))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, &StepError{
		Code:       CodeHTTPStatus,
		Message:    fmt.Sprintf("the receiver answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode)),
		Retryable:  true,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), e.opts.Now()),
	}
}
