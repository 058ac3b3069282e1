// Package awskms is the API's KMS client: the three operations its functions
// call, GenerateDataKey and Decrypt (the secrets' envelope,
// internal/secrets/kmssealer) and GenerateMac (signal tokens,
// internal/signaltoken/kmsmac), in KMS's JSON protocol (awsJson1_1), signed
// by the SDK's SigV4 signer with the function's credentials, sent by the
// SDK's HTTP client and bounded and retried by an awsbudget.Budget, whose
// retryer is the SDK's standard one.
//
// It is not the SDK's service/kms client because that client, generated for
// the schema-based serialisers, builds the Smithy schema of every shape of
// every KMS operation in its package initialisation: 0.38 MiB of each
// bootstrap that links it and 0.6 to 1.2 ms of each cold start (1,910
// allocations, GODEBUG=inittrace=1), whichever of its 50-odd operations the
// function calls, paid by the read routes get-run and get-run-step for one
// GenerateMac per waiting step (docs/performance.md, issue 17). Three
// operations of a JSON protocol are small enough to write out; everything
// that is subtle (signing, credentials, retry classification and back-off,
// the HTTP transport) stays the SDK's. Tests and tools that create keys keep
// using the SDK's client; TestTheClientIsTheSDKsOnTheWire holds the two to
// the same requests.
package awskms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/awsconfig"
)

// DefaultBudget bounds every call: KMS answers in milliseconds (tens with a
// cold TLS handshake), so 1 s per attempt only cuts a connection that hangs,
// and a call gives up after 2 s. A 10 s route function can then make its
// limiter call (4 s at worst), one KMS call and its own DynamoDB write and
// still answer. Three attempts with back-offs of at most 50 and 100 ms
// replace the SDK's default (back-offs of up to 20 s), which could hold a
// call past the Lambda's timeout.
var DefaultBudget = awsbudget.Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

// maxResponse bounds what is read of an answer: KMS's largest here is a
// data key and its blob, a few hundred bytes.
const maxResponse = 1 << 20

// Client calls KMS. It is safe for concurrent use.
type Client struct {
	endpoint string // scheme://host[:port], no trailing slash
	region   string
	creds    aws.CredentialsProvider
	http     aws.HTTPClient
	signer   *v4.Signer
	budget   awsbudget.Budget
}

// Options are what New takes besides the SDK configuration.
type Options struct {
	// Endpoint is KMS's URL; "" resolves it as the SDK would (Endpoint).
	Endpoint string
	// HTTPClient sends the requests; nil is the configuration's, else the
	// SDK's default client.
	HTTPClient aws.HTTPClient
	// Budget bounds each call; zero fields are DefaultBudget's.
	Budget awsbudget.Budget
}

// FromEnv is a client configured from the environment (awsconfig.Load), at
// endpoint if it is not empty. Against a custom endpoint with no
// credentials or region in the environment it uses fixed local ones, which
// moto accepts.
func FromEnv(ctx context.Context, endpoint string) (*Client, error) {
	cfg, err := awsconfig.Load(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("awskms: %w", err)
	}
	return New(cfg, Options{Endpoint: endpoint})
}

// New is a client signing with cfg's credentials for cfg's region.
func New(cfg aws.Config, opts Options) (*Client, error) {
	if cfg.Region == "" {
		return nil, errors.New("awskms: no region")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("awskms: no credentials")
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = Endpoint(cfg)
	}
	endpoint = strings.TrimRight(endpoint, "/")
	if !strings.HasPrefix(endpoint, "https://") && !strings.HasPrefix(endpoint, "http://") {
		return nil, fmt.Errorf("awskms: endpoint %q is not an http(s) URL", endpoint)
	}
	httpClient := opts.HTTPClient
	if httpClient == nil {
		httpClient = cfg.HTTPClient
	}
	if httpClient == nil {
		httpClient = awshttp.NewBuildableClient()
	}
	return &Client{
		endpoint: endpoint,
		region:   cfg.Region,
		creds:    cfg.Credentials,
		http:     httpClient,
		signer:   v4.NewSigner(),
		budget:   opts.Budget.Or(DefaultBudget),
	}, nil
}

// WithBudget is c with budget b on every call; zero fields are
// DefaultBudget's.
func (c *Client) WithBudget(b awsbudget.Budget) *Client {
	with := *c
	with.budget = b.Or(DefaultBudget)
	return &with
}

// serviceEndpoints and ignoreEndpoints are the parts of an SDK
// configuration source that name a service's base endpoint and say whether
// configured endpoints are ignored (awsconfig's AWS_ENDPOINT_URL_<SERVICE>
// and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, and the SDK's own environment and
// shared config sources), as the SDK's clients ask them.
type (
	serviceEndpoints interface {
		GetServiceBaseEndpoint(ctx context.Context, sdkID string) (string, bool, error)
	}
	ignoreEndpoints interface {
		GetIgnoreConfiguredEndpoints(ctx context.Context) (bool, bool, error)
	}
)

// Endpoint is KMS's URL for cfg, resolved as the SDK's clients resolve
// theirs: the configuration's sources for the service (AWS_ENDPOINT_URL_KMS),
// unless a source says configured endpoints are ignored; else the
// configuration's BaseEndpoint (AWS_ENDPOINT_URL, which awsconfig leaves out
// when they are ignored); else KMS's regional endpoint, https://kms.<region>.
// <the partition's domain>.
func Endpoint(cfg aws.Config) string {
	if url, ok := serviceEndpoint(cfg.ConfigSources); ok {
		return url
	}
	if cfg.BaseEndpoint != nil && *cfg.BaseEndpoint != "" {
		return *cfg.BaseEndpoint
	}
	return "https://kms." + cfg.Region + "." + dnsSuffix(cfg.Region)
}

// serviceEndpoint is the first of sources to name KMS's endpoint, if the
// first to say whether configured endpoints are ignored does not say they
// are (the SDK's internal/configsources.ResolveServiceBaseEndpoint).
func serviceEndpoint(sources []any) (string, bool) {
	ctx := context.Background()
	for _, source := range sources {
		if s, ok := source.(ignoreEndpoints); ok {
			if ignored, found, err := s.GetIgnoreConfiguredEndpoints(ctx); err == nil && found {
				if ignored {
					return "", false
				}
				break
			}
		}
	}
	for _, source := range sources {
		if s, ok := source.(serviceEndpoints); ok {
			if url, found, err := s.GetServiceBaseEndpoint(ctx, "KMS"); err != nil || found {
				return url, err == nil && url != ""
			}
		}
	}
	return "", false
}

// partitions are the AWS partitions whose domain is not amazonaws.com (aws
// and aws-us-gov), by the prefix of their regions' names (the SDK's
// partitions.json).
var partitions = []struct{ regionPrefix, dnsSuffix string }{
	{"cn-", "amazonaws.com.cn"},
	{"us-iso-", "c2s.ic.gov"},
	{"us-isob-", "sc2s.sgov.gov"},
	{"eu-isoe-", "cloud.adc-e.uk"},
	{"us-isof-", "csp.hci.ic.gov"},
	{"eusc-", "amazonaws.eu"},
}

// dnsSuffix is the domain of region's partition.
func dnsSuffix(region string) string {
	for _, p := range partitions {
		if strings.HasPrefix(region, p.regionPrefix) {
			return p.dnsSuffix
		}
	}
	return "amazonaws.com"
}

// Error is KMS's refusal of a call: the code its answer names
// (NotFoundException, InvalidCiphertextException, ThrottlingException, …),
// with the HTTP status. It is a smithy.APIError, as the SDK's errors are, so
// the standard retryer classifies it the same way (throttling codes and
// 5xx statuses retry), and callers test ErrorCode.
type Error struct {
	Operation  string
	StatusCode int
	Code       string
	Message    string
	RequestID  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("KMS %s: %s: %s (HTTP %d, request id %s)", e.Operation, e.Code, e.Message, e.StatusCode, e.RequestID)
}

// ErrorCode is KMS's error code.
func (e *Error) ErrorCode() string { return e.Code }

// ErrorMessage is KMS's message.
func (e *Error) ErrorMessage() string { return e.Message }

// ErrorFault is whose fault the error is: a 5xx is the server's.
func (e *Error) ErrorFault() smithy.ErrorFault {
	if e.StatusCode >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// HTTPStatusCode is the answer's status, which the retryer reads.
func (e *Error) HTTPStatusCode() int { return e.StatusCode }

var _ smithy.APIError = (*Error)(nil)

// DataKey is GenerateDataKey's answer: a fresh AES-256 key, in the clear
// and wrapped by the KMS key (KeyID, as an ARN).
type DataKey struct {
	Plaintext      []byte
	CiphertextBlob []byte
	KeyID          string
}

// GenerateDataKey is one GenerateDataKey call: an AES_256 data key under
// keyID, bound to encCtx.
func (c *Client) GenerateDataKey(ctx context.Context, keyID string, encCtx map[string]string) (DataKey, error) {
	var out struct {
		Plaintext      []byte
		CiphertextBlob []byte
		KeyID          string `json:"KeyId"`
	}
	err := c.call(ctx, "GenerateDataKey", struct {
		KeyID             string            `json:"KeyId"`
		KeySpec           string            `json:"KeySpec"`
		EncryptionContext map[string]string `json:"EncryptionContext,omitempty"`
	}{keyID, "AES_256", encCtx}, &out)
	return DataKey(out), err
}

// Decrypt is one Decrypt call of blob, naming keyID (so that KMS refuses a
// blob of any other key) and with encCtx.
func (c *Client) Decrypt(ctx context.Context, keyID string, blob []byte, encCtx map[string]string) ([]byte, error) {
	var out struct{ Plaintext []byte }
	err := c.call(ctx, "Decrypt", struct {
		CiphertextBlob    []byte            `json:"CiphertextBlob"`
		KeyID             string            `json:"KeyId"`
		EncryptionContext map[string]string `json:"EncryptionContext,omitempty"`
	}{blob, keyID, encCtx}, &out)
	return out.Plaintext, err
}

// GenerateMac is one GenerateMac call: HMAC-SHA256 of message under the
// HMAC key keyID.
func (c *Client) GenerateMac(ctx context.Context, keyID string, message []byte) ([]byte, error) {
	var out struct{ Mac []byte }
	err := c.call(ctx, "GenerateMac", struct {
		KeyID        string `json:"KeyId"`
		MacAlgorithm string `json:"MacAlgorithm"`
		Message      []byte `json:"Message"`
	}{keyID, "HMAC_SHA_256", message}, &out)
	return out.Mac, err
}

// call sends operation with input as its JSON body, within the budget, and
// decodes a 200's body into output.
func (c *Client) call(ctx context.Context, operation string, input, output any) error {
	body, err := json.Marshal(input)
	if err != nil {
		return fmt.Errorf("KMS %s: %w", operation, err)
	}
	return c.budget.Run(ctx, func(ctx context.Context) error {
		return c.attempt(ctx, operation, body, output)
	})
}

// attempt is one signed POST of body.
func (c *Client) attempt(ctx context.Context, operation string, body []byte, output any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("KMS %s: %w", operation, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+operation)
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("KMS %s: credentials: %w", operation, err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "kms", c.region, time.Now()); err != nil {
		return fmt.Errorf("KMS %s: sign: %w", operation, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("KMS %s: %w", operation, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("KMS %s: read the answer: %w", operation, err)
	}
	if resp.StatusCode != http.StatusOK {
		return refusal(operation, resp, answer)
	}
	if err := json.Unmarshal(answer, output); err != nil {
		return fmt.Errorf("KMS %s: decode the answer: %w", operation, err)
	}
	return nil
}

// refusal is the Error of a non-200 answer, its code read as the SDK's
// awsJson1_1 deserialisers read it: the X-Amzn-ErrorType header, else the
// body's __type (or code), shorn of a namespace (aws.kms#) and of anything
// after a colon.
func refusal(operation string, resp *http.Response, body []byte) *Error {
	var shape struct {
		Type         string `json:"__type"`
		Code         string `json:"code"`
		Message      string `json:"message"`
		MessageUpper string `json:"Message"`
	}
	_ = json.Unmarshal(body, &shape) // a body that is not JSON leaves the code to the status
	code := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{shape.Type, shape.Code} {
		if code == "" {
			code = c
		}
	}
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = "HTTP" + strconv.Itoa(resp.StatusCode)
	}
	message := shape.Message
	if message == "" {
		message = shape.MessageUpper
	}
	return &Error{
		Operation:  operation,
		StatusCode: resp.StatusCode,
		Code:       code,
		Message:    message,
		RequestID:  resp.Header.Get("X-Amzn-RequestId"),
	}
}
