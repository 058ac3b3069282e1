package awstest

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/workflowsapi/workflows/internal/awskms"
)

// MustKMS is the API's own KMS client (internal/awskms) for moto, signed as
// MustKMSClient's is. With calls, each request it sends is counted there
// by its operation (against moto nothing is retried, so a request is a
// call).
func MustKMS(tb testing.TB, calls ...*Calls) *awskms.Client {
	tb.Helper()
	cfg := aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	var httpClient aws.HTTPClient = awshttp.NewBuildableClient()
	for _, c := range calls {
		httpClient = c.HTTPClient(httpClient)
	}
	client, err := awskms.New(cfg, awskms.Options{Endpoint: Endpoint(tb), HTTPClient: httpClient})
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// MustKMSKey creates a symmetric encryption key in moto for one test, with
// the SDK's client, and returns the API's client (MustKMS, counting into
// calls) and the key's ARN. So a counter starts at zero, without the key's
// creation. The key is scheduled for deletion when the test ends.
func MustKMSKey(tb testing.TB, calls ...*Calls) (client *awskms.Client, keyID string) {
	tb.Helper()
	keyID = mustCreateKey(tb, types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	return MustKMS(tb, calls...), keyID
}

// MustHMACKey creates an HMAC_256 key in moto for one test, as the stack's
// signal key is, and returns its ARN. The key is scheduled for deletion when
// the test ends.
func MustHMACKey(tb testing.TB) (keyID string) {
	tb.Helper()
	return mustCreateKey(tb, types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
}

// mustCreateKey creates a key of spec and usage with the SDK's client and
// schedules its deletion for the test's end.
func mustCreateKey(tb testing.TB, spec types.KeySpec, usage types.KeyUsageType) (keyARN string) {
	tb.Helper()
	admin := MustKMSClient(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := admin.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     spec,
		KeyUsage:    usage,
		Description: aws.String("awstest key for " + tb.Name()),
	})
	if err != nil {
		tb.Fatalf("create a KMS key in moto: %v", err)
	}
	tb.Cleanup(func() {
		// By the key's bare id: moto finds no key by ARN here.
		_, _ = admin.ScheduleKeyDeletion(context.Background(), &kms.ScheduleKeyDeletionInput{
			KeyId: out.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7),
		})
	})
	return aws.ToString(out.KeyMetadata.Arn)
}

// KMS is a kms option attaching Count, for the SDK's client.
func (c *Calls) KMS(o *kms.Options) { o.APIOptions = append(o.APIOptions, c.Count) }

// HTTPClient is next, counting into c each request of an AWS JSON
// protocol by the operation its X-Amz-Target names (TrentService.Decrypt
// is Decrypt).
func (c *Calls) HTTPClient(next aws.HTTPClient) aws.HTTPClient {
	return countingHTTPClient{calls: c, next: next}
}

type countingHTTPClient struct {
	calls *Calls
	next  aws.HTTPClient
}

func (h countingHTTPClient) Do(req *http.Request) (*http.Response, error) {
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		h.calls.add(target[strings.LastIndexByte(target, '.')+1:])
	}
	return h.next.Do(req)
}
