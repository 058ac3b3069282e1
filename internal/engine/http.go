package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workflowsapi/workflows/internal/connections"
	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/jsondepth"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// userAgent is sent unless the step sets its own.
const userAgent = "workflows-runner/1"

// maxRetryAfter bounds what a Retry-After may ask: a run waits at most this
// long for one back-off (the longest delay a step may have).
const maxRetryAfter = workflows.MaxDelaySeconds * time.Second

// The bounds of an outbound request, checked before anything is sent: a
// step over one fails with REQUEST_TOO_LARGE, which another attempt would
// not change. Without them one small workflow, started 500 times a minute,
// could push gigabytes a minute at a third party. A header's size is its
// name and value; the headers' size adds up every one the request carries,
// the engine's own (User-Agent, Content-Type, Idempotency-Key) and the
// connection's included.
const (
	maxRequestBodyBytes    = 256 << 10
	maxRequestHeaderBytes  = 8 << 10
	maxRequestHeadersBytes = 32 << 10
	maxRequestURLBytes     = 8 << 10
)

// executeHTTP runs one attempt of an http step: it renders the request,
// applies the connection's credentials for the URL's own origin (the
// definition's, which no input can change: renderURL), sends it under the
// outbound policy with the step's timeout, and reads the answer into
// {status, headers, body}.
//
// The output's headers are an object of lower-cased names, each with its
// values joined by ", " (the combination RFC 9110 gives to a repeated
// field; Set-Cookie's values, which do not combine, are joined the same
// way). The body is the parsed JSON when the response says it is JSON
// (application/json or any +json type) and parses (numbers kept as written),
// else the body as a string (which, as JSON, replaces invalid UTF-8 with
// U+FFFD).
//
// The credentials the step added are redacted from its output and from
// its error (redactor): a target that echoes them must not hand them to
// every key that may read runs.
func (e *Engine) executeHTTP(ctx context.Context, step workflows.Step, cs *compiledStep, rc Context, idempotencyKey string) (Result, error) {
	req, err := e.buildRequest(ctx, step, cs, rc)
	if err != nil {
		return Result{}, err
	}
	if err := e.opts.Policy.checkHost(req.URL.Hostname()); err != nil {
		return Result{}, refused(err)
	}
	var secrets *redactor
	if step.With.Connection != "" {
		creds, err := e.openCredentials(ctx, step.With.Connection)
		if err != nil {
			return Result{}, err
		}
		req = applyCredentials(req, creds)
		secrets = newRedactor(creds)
	}
	req.Header.Set("Idempotency-Key", idempotencyKey)
	if err := checkHeaderSizes(req.Header); err != nil {
		return Result{}, secrets.redactError(err)
	}
	output, err := e.send(ctx, step, req)
	if err != nil {
		return Result{}, secrets.redactError(err)
	}
	redacted := secrets.redactValue(output)
	// Depth first: the size check encodes the output.
	if jsondepth.Exceeds(redacted, jsondepth.MaxDepth) {
		return Result{}, tooDeep("the step's output")
	}
	out, err := marshalValue(redacted)
	if err != nil {
		return Result{}, err
	}
	if limit := e.opts.MaxOutputBytes + httpOutputOverheadBytes; len(out) > limit {
		return Result{}, tooLarge("the response as JSON (status, headers and body)", len(out), limit)
	}
	return Result{Output: redacted}, nil
}

// send sends the request with the step's timeout and reads the answer into
// the step's output.
func (e *Engine) send(ctx context.Context, step workflows.Step, req *http.Request) (map[string]any, error) {
	attemptCtx, cancel := context.WithTimeout(req.Context(), StepTimeout(step))
	defer cancel()
	req = req.WithContext(attemptCtx)
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, classifyError(ctx, err, req.URL.Host)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		// Judged before the body is read: a 503 with a big page is still a
		// 503, worth another attempt.
		return nil, e.statusError(resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(e.opts.MaxOutputBytes)+1))
	if err != nil {
		return nil, classifyError(ctx, err, req.URL.Host)
	}
	if len(body) > e.opts.MaxOutputBytes {
		return nil, tooLarge("the response body", len(body), e.opts.MaxOutputBytes)
	}
	return map[string]any{
		"status":  resp.StatusCode,
		"headers": headerObject(resp.Header),
		"body":    bodyValue(resp.Header.Get("Content-Type"), body),
	}, nil
}

// buildRequest renders the method, URL, headers and body. The URL keeps the
// definition's origin (renderURL), and the URL as parsed for the request is
// held to it once more (checkOrigin); the URL and the body are bounded
// (maxRequestURLBytes, maxRequestBodyBytes).
func (e *Engine) buildRequest(ctx context.Context, step workflows.Step, cs *compiledStep, rc Context) (*http.Request, error) {
	jqCtx, cancel := context.WithTimeout(ctx, e.opts.JQTimeout)
	defer cancel()
	rawURL, authored, err := renderURL(jqCtx, ctx, cs.url, rc)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	var isJSON bool
	if cs.body != nil {
		var b bytes.Buffer
		if err := cs.body.render(jqCtx, ctx, rc, &b); err != nil {
			return nil, err
		}
		if b.Len() > maxRequestBodyBytes {
			return nil, requestTooLarge("the body, rendered,", maxRequestBodyBytes)
		}
		body, isJSON = bytes.NewReader(b.Bytes()), true
	}
	// The request's context is ctx, the caller's: the attempt's timeout is
	// added when it is sent. The URL is parsed here once, as the client
	// will use it.
	req, err := http.NewRequestWithContext(ctx, step.With.Method, rawURL, body)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") || req.URL.Hostname() == "" {
		return nil, &StepError{Code: CodeInvalidRequest, Message: "the url, rendered, is not an absolute http or https URL with a host"}
	}
	if err := checkOrigin(req.URL, authored); err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", userAgent)
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range cs.headers {
		value, err := renderString(jqCtx, ctx, h.value, rc)
		if err != nil {
			return nil, err
		}
		if !validHeaderValue(value) {
			return nil, &StepError{Code: CodeInvalidRequest, Message: fmt.Sprintf("the header %s, rendered, holds a line break or another control character", h.name)}
		}
		if len(h.name)+len(value) > maxRequestHeaderBytes {
			// Checked here too, before the next header is rendered.
			return nil, requestTooLarge("the header "+h.name+", rendered (name and value),", maxRequestHeaderBytes)
		}
		req.Header.Set(h.name, value) // the step's own Content-Type wins over the default
	}
	return req, nil
}

// checkHeaderSizes holds the request's headers, as they will be sent, to
// maxRequestHeaderBytes each (name and value) and maxRequestHeadersBytes in
// all. A message names the header, never its value.
func checkHeaderSizes(h http.Header) error {
	total := 0
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, value := range h[name] {
			size := len(name) + len(value)
			if size > maxRequestHeaderBytes {
				return requestTooLarge("the header "+name+" (name and value)", maxRequestHeaderBytes)
			}
			total += size
		}
	}
	if total > maxRequestHeadersBytes {
		return requestTooLarge("the request's headers, together,", maxRequestHeadersBytes)
	}
	return nil
}

// requestTooLarge fails a step whose request is over a bound, before
// anything is sent.
func requestTooLarge(what string, limit int) *StepError {
	return &StepError{Code: CodeRequestTooLarge, Message: fmt.Sprintf("%s is over %s: nothing was sent", what, sizeText(limit))}
}

// validHeaderValue refuses what would end a header early or that Go's client
// refuses anyway: control characters other than tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func (e *Engine) openCredentials(ctx context.Context, connectionID string) (connections.Credentials, error) {
	if e.opts.Credentials == nil {
		return connections.Credentials{}, errors.New("engine: a step names a connection and no credentials source was given")
	}
	creds, err := e.opts.Credentials(ctx, connectionID)
	if errors.Is(err, domain.ErrNotFound) {
		return creds, &StepError{Code: CodeConnectionNotFound, Message: fmt.Sprintf("the connection %s no longer exists", connectionID)}
	}
	return creds, err
}

// applyCredentials sets the connection's header on the request (over any the
// step set by the same name) and records its name for checkRedirect, which
// strips it from a redirect that leaves the origin.
func applyCredentials(req *http.Request, creds connections.Credentials) *http.Request {
	var name string
	switch creds.Type {
	case connections.TypeBearer:
		req.Header.Set("Authorization", "Bearer "+creds.Token)
	case connections.TypeBasic:
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(creds.Username+":"+creds.Password)))
	case connections.TypeHeader:
		name = creds.Name
		req.Header.Set(creds.Name, creds.Value)
	}
	return req.WithContext(context.WithValue(req.Context(), credentialHeaderKey{}, name))
}

// statusError is the failure of a 4xx or 5xx answer: 5xx, 408 and 429 may go
// better on another attempt; other 4xx will not. Retry-After counts on 429
// and 503 only. The message says the status only: the body may hold
// anything.
func (e *Engine) statusError(resp *http.Response) *StepError {
	code := resp.StatusCode
	se := &StepError{
		Code:      CodeHTTPStatus,
		Message:   fmt.Sprintf("the target answered %d %s", code, http.StatusText(code)),
		Retryable: code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests,
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		se.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), e.opts.Now())
	}
	return se
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110, 10.2.3). Anything else, a date past or a negative number is
// zero (no wish); a wish is capped at maxRetryAfter.
func parseRetryAfter(value string, now time.Time) time.Duration {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0
	}
	if isDigits(value) {
		seconds, err := strconv.ParseInt(value, 10, 64)
		if err != nil || seconds > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter // too many digits for an int64 is a long wait too
		}
		return time.Duration(seconds) * time.Second
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0
	}
	wait := at.Sub(now)
	if wait <= 0 {
		return 0
	}
	return min(wait, maxRetryAfter)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// classifyError turns what the client said into a step failure. host is the
// URL's host[:port], safe to show; the URL itself may hold secrets in its
// query, so url.Error's text is never used. ctx is the caller's: when it
// ended, the caller gave up, and that is not the step's failure.
func classifyError(ctx context.Context, err error, host string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var refusal *refusedError
	if errors.As(err, &refusal) {
		return refused(refusal)
	}
	if errors.Is(err, errTooManyRedirects) {
		return &StepError{Code: CodeTooManyRedirects, Message: fmt.Sprintf("the target redirected more than %d times", MaxRedirects)}
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return &StepError{Code: CodeTimeout, Message: fmt.Sprintf("no complete answer from %s within the step's timeout", host), Retryable: true}
	}
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verification) {
		return &StepError{Code: CodeTLS, Message: fmt.Sprintf("the certificate of %s could not be verified", host)}
	}
	return &StepError{Code: CodeConnectionError, Message: fmt.Sprintf("could not reach %s: %s", host, innerText(err)), Retryable: true}
}

// innerText is the innermost cause, without the URL or addresses around it.
func innerText(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func refused(err error) *StepError {
	return &StepError{Code: CodeTargetRefused, Message: err.Error()}
}

// headerObject is the response's headers as the step's output has them.
func headerObject(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for name, values := range h {
		out[strings.ToLower(name)] = strings.Join(values, ", ")
	}
	return out
}

// bodyValue is the parsed JSON of a JSON response, the text otherwise.
func bodyValue(contentType string, body []byte) any {
	mediaType, _, err := mime.ParseMediaType(contentType)
	if err == nil && (mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber() // an id of 20 digits stays exact
		var v any
		if dec.Decode(&v) == nil && !dec.More() {
			if _, err := dec.Token(); err == io.EOF {
				return v
			}
		}
	}
	return string(body)
}
