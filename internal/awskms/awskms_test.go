package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/workflowsapi/workflows/internal/awsbudget"
	"github.com/workflowsapi/workflows/internal/awsconfig"
	"github.com/workflowsapi/workflows/internal/awskms"
)

// These tests run against a recorder on 127.0.0.1 that answers as the
// test says; the calls against a real KMS protocol server (moto) are the
// tests of internal/secrets, kmssealer and kmsmac, which use this client.

// request is what the recorder saw of one request.
type request struct {
	method, path, contentType, target string
	body                              map[string]any
	authorization, securityToken      string
}

// recorder is a KMS stand-in that records requests and answers each with
// the next of answers (the last one repeated).
type recorder struct {
	mu       sync.Mutex
	requests []request
	answers  []answer
}

type answer struct {
	status int
	header map[string]string
	body   string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	r.mu.Lock()
	r.requests = append(r.requests, request{
		method: req.Method, path: req.URL.Path, contentType: req.Header.Get("Content-Type"),
		target: req.Header.Get("X-Amz-Target"), body: body,
		authorization: req.Header.Get("Authorization"), securityToken: req.Header.Get("X-Amz-Security-Token"),
	})
	a := r.answers[min(len(r.requests), len(r.answers))-1]
	r.mu.Unlock()
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

func (r *recorder) seen() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

func serve(t *testing.T, answers ...answer) (*recorder, string) {
	t.Helper()
	rec := &recorder{answers: answers}
	server := httptest.NewServer(rec)
	t.Cleanup(server.Close)
	return rec, server.URL
}

var testCredentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-test", "session-test")

func ours(t *testing.T, endpoint string, budget awsbudget.Budget) *awskms.Client {
	t.Helper()
	client, err := awskms.New(aws.Config{Region: "eu-west-1", Credentials: testCredentials}, awskms.Options{Endpoint: endpoint, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func sdks(endpoint string) *kms.Client {
	return kms.New(kms.Options{Region: "eu-west-1", Credentials: testCredentials, BaseEndpoint: aws.String(endpoint)})
}

var (
	dataKey  = bytes.Repeat([]byte{7}, 32)
	blob     = []byte("wrapped-data-key-blob")
	mac      = bytes.Repeat([]byte{9}, 32)
	keyARN   = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	encCtx   = map[string]string{"account": "acc_1", "connection": "con_1"}
	b64      = base64.StdEncoding.EncodeToString
	answered = answer{status: 200, body: `{"Plaintext":"` + b64(dataKey) + `","CiphertextBlob":"` + b64(blob) + `","KeyId":"` + keyARN + `","Mac":"` + b64(mac) + `","MacAlgorithm":"HMAC_SHA_256"}`}
)

// TestTheClientIsTheSDKsOnTheWire sends each operation through the SDK's
// client and through this one, and holds them to the same request (method,
// path, media type, target, JSON body, SigV4 scope, session token) and the
// same reading of the answer.
func TestTheClientIsTheSDKsOnTheWire(t *testing.T) {
	ctx := context.Background()
	rec, endpoint := serve(t, answered)
	client, sdk := ours(t, endpoint, awsbudget.Budget{}), sdks(endpoint)

	key, err := client.GenerateDataKey(ctx, keyARN, encCtx)
	if err != nil {
		t.Fatal(err)
	}
	sdkKey, err := sdk.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(keyARN), KeySpec: types.DataKeySpecAes256, EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key.Plaintext, sdkKey.Plaintext) || !bytes.Equal(key.CiphertextBlob, sdkKey.CiphertextBlob) || key.KeyID != aws.ToString(sdkKey.KeyId) {
		t.Errorf("GenerateDataKey read %+v, the SDK %+v", key, sdkKey)
	}

	plaintext, err := client.Decrypt(ctx, keyARN, blob, encCtx)
	if err != nil {
		t.Fatal(err)
	}
	sdkDecrypted, err := sdk.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(keyARN), CiphertextBlob: blob, EncryptionContext: encCtx})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plaintext, sdkDecrypted.Plaintext) || !bytes.Equal(plaintext, dataKey) {
		t.Errorf("Decrypt read %x, the SDK %x", plaintext, sdkDecrypted.Plaintext)
	}

	sum, err := client.GenerateMac(ctx, keyARN, []byte("message"))
	if err != nil {
		t.Fatal(err)
	}
	sdkSum, err := sdk.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(keyARN), MacAlgorithm: types.MacAlgorithmSpecHmacSha256, Message: []byte("message")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sum, sdkSum.Mac) || !bytes.Equal(sum, mac) {
		t.Errorf("GenerateMac read %x, the SDK %x", sum, sdkSum.Mac)
	}

	seen := rec.seen()
	if len(seen) != 6 {
		t.Fatalf("%d requests, want 6", len(seen))
	}
	for i := 0; i < len(seen); i += 2 {
		mine, theirs := seen[i], seen[i+1]
		if mine.method != theirs.method || mine.path != theirs.path || mine.contentType != theirs.contentType || mine.target != theirs.target {
			t.Errorf("request %s %s %s %s, the SDK's %s %s %s %s", mine.method, mine.path, mine.contentType, mine.target,
				theirs.method, theirs.path, theirs.contentType, theirs.target)
		}
		if !reflect.DeepEqual(mine.body, theirs.body) {
			t.Errorf("%s body %v, the SDK's %v", mine.target, mine.body, theirs.body)
		}
		if got, want := scope(mine.authorization), scope(theirs.authorization); got != want || !strings.HasSuffix(got, "/eu-west-1/kms/aws4_request") {
			t.Errorf("%s signed for %q, the SDK for %q", mine.target, got, want)
		}
		if mine.securityToken != "session-test" || theirs.securityToken != mine.securityToken {
			t.Errorf("%s session token %q, the SDK's %q", mine.target, mine.securityToken, theirs.securityToken)
		}
	}
}

// scope is the credential scope of a SigV4 Authorization header, without
// its date: AKIDTEST/<date>/eu-west-1/kms/aws4_request is
// AKIDTEST/eu-west-1/kms/aws4_request.
func scope(authorization string) string {
	_, rest, _ := strings.Cut(authorization, "Credential=")
	credential, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(credential, "/")
	if len(parts) != 5 {
		return "malformed: " + authorization
	}
	return strings.Join([]string{parts[0], parts[2], parts[3], parts[4]}, "/")
}

func TestARefusalIsAnAPIErrorWithKMSsCodeAndIsNotRetried(t *testing.T) {
	cases := []struct {
		name     string
		answer   answer
		wantCode string
	}{
		{"a namespaced __type", answer{status: 400, body: `{"__type":"com.amazonaws.kms#NotFoundException","message":"Key 'x' does not exist"}`}, "NotFoundException"},
		{"a bare __type and Message", answer{status: 400, body: `{"__type":"InvalidCiphertextException","Message":"no"}`}, "InvalidCiphertextException"},
		{"the header first", answer{status: 400, header: map[string]string{"X-Amzn-ErrorType": "IncorrectKeyException:http://internal.amazon.com/"}, body: `{"__type":"Other"}`}, "IncorrectKeyException"},
		{"no JSON", answer{status: 403, body: `<html>denied</html>`}, "HTTP403"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, endpoint := serve(t, c.answer)
			_, err := ours(t, endpoint, awsbudget.Budget{}).Decrypt(context.Background(), keyARN, blob, encCtx)
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != c.wantCode || apiErr.ErrorFault() != smithy.FaultClient {
				t.Fatalf("err = %v, want an APIError with code %s", err, c.wantCode)
			}
			var refusal *awskms.Error
			if !errors.As(err, &refusal) || refusal.StatusCode != c.answer.status || refusal.Operation != "Decrypt" {
				t.Errorf("err = %#v", err)
			}
			if n := len(rec.seen()); n != 1 {
				t.Errorf("%d requests for a refusal, want 1", n)
			}
		})
	}
}

func TestThrottlingAndServerErrorsAreRetriedWithinTheBudget(t *testing.T) {
	throttled := answer{status: 400, body: `{"__type":"ThrottlingException","message":"Rate exceeded"}`}
	unavailable := answer{status: 503, body: `{"__type":"KMSInternalException"}`}
	budget := awsbudget.Budget{Call: 2 * time.Second, Attempt: time.Second, MaxAttempts: 3}

	t.Run("two throttles, then the answer", func(t *testing.T) {
		rec, endpoint := serve(t, throttled, throttled, answered)
		sum, err := ours(t, endpoint, budget).GenerateMac(context.Background(), keyARN, []byte("m"))
		if err != nil || !bytes.Equal(sum, mac) {
			t.Fatalf("GenerateMac = %x, %v", sum, err)
		}
		if n := len(rec.seen()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("a 5xx every time: MaxAttempts, then the last error", func(t *testing.T) {
		rec, endpoint := serve(t, unavailable)
		_, err := ours(t, endpoint, budget).GenerateMac(context.Background(), keyARN, []byte("m"))
		var refusal *awskms.Error
		if !errors.As(err, &refusal) || refusal.StatusCode != 503 || refusal.ErrorFault() != smithy.FaultServer {
			t.Fatalf("err = %v, want the 503", err)
		}
		if n := len(rec.seen()); n != 3 {
			t.Errorf("%d requests, want 3 (MaxAttempts)", n)
		}
	})
	t.Run("WithBudget changes the attempts", func(t *testing.T) {
		rec, endpoint := serve(t, unavailable)
		client := ours(t, endpoint, budget).WithBudget(awsbudget.Budget{MaxAttempts: 1})
		if _, err := client.GenerateMac(context.Background(), keyARN, []byte("m")); err == nil {
			t.Fatal("GenerateMac succeeded against a 503")
		}
		if n := len(rec.seen()); n != 1 {
			t.Errorf("%d requests, want 1", n)
		}
	})
}

// TestTheRegionalEndpointIsTheSDKs holds Endpoint's partition table to the
// SDK's own endpoint rules for KMS, region by region.
func TestTheRegionalEndpointIsTheSDKs(t *testing.T) {
	resolver := kms.NewDefaultEndpointResolverV2()
	for _, region := range []string{"us-east-1", "eu-west-1", "ap-southeast-5", "mx-central-1", "us-gov-west-1",
		"cn-north-1", "cn-northwest-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1", "eusc-de-east-1"} {
		want, err := resolver.ResolveEndpoint(context.Background(), kms.EndpointParameters{Region: aws.String(region)})
		if err != nil {
			t.Fatalf("%s: the SDK: %v", region, err)
		}
		if got := awskms.Endpoint(aws.Config{Region: region}); got != want.URI.String() {
			t.Errorf("%s: %s, the SDK resolves %s", region, got, want.URI.String())
		}
	}
}

// endpointSource is a configuration source as awsconfig's: endpoints by
// service, and whether they are ignored.
type endpointSource struct {
	urls    map[string]string
	ignored bool
}

func (s endpointSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	url, ok := s.urls[sdkID]
	return url, ok, nil
}

func (s endpointSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.ignored, true, nil
}

func TestAConfiguredEndpointWinsUnlessIgnored(t *testing.T) {
	base := "http://127.0.0.1:4566"
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(base),
		ConfigSources: []any{endpointSource{urls: map[string]string{"KMS": "http://127.0.0.1:5000", "SFN": "http://127.0.0.1:6000"}}}}
	if got := awskms.Endpoint(cfg); got != "http://127.0.0.1:5000" {
		t.Errorf("with the service's own: %s", got)
	}
	cfg.ConfigSources = []any{endpointSource{urls: map[string]string{"SFN": "http://127.0.0.1:6000"}}}
	if got := awskms.Endpoint(cfg); got != base {
		t.Errorf("with the base only: %s", got)
	}
	cfg.ConfigSources = []any{endpointSource{urls: map[string]string{"KMS": "http://127.0.0.1:5000"}, ignored: true}}
	cfg.BaseEndpoint = nil // awsconfig leaves it out when endpoints are ignored
	if got := awskms.Endpoint(cfg); got != "https://kms.us-east-1.amazonaws.com" {
		t.Errorf("ignored: %s", got)
	}
}

// TestTheEnvironmentsEndpointsAreHonouredThroughAwsconfig: the variables,
// read by awsconfig, as the SDK's clients read them.
func TestTheEnvironmentsEndpointsAreHonouredThroughAwsconfig(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"the service's", map[string]string{"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:5000"},
		{"the global one", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}, "http://127.0.0.1:4566"},
		{"both ignored", map[string]string{"AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
			"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "https://kms.eu-west-1.amazonaws.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, name := range []string{"AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
				t.Setenv(name, c.env[name])
			}
			t.Setenv("AWS_REGION", "eu-west-1")
			t.Setenv("AWS_ACCESS_KEY_ID", "testing")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
			cfg, err := awsconfig.FromEnvironment(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := awskms.Endpoint(cfg); got != c.want {
				t.Errorf("%s, want %s", got, c.want)
			}
		})
	}
}

func TestNewRefusesAnIncompleteConfiguration(t *testing.T) {
	for name, c := range map[string]struct {
		cfg      aws.Config
		endpoint string
	}{
		"no region":      {aws.Config{Credentials: testCredentials}, ""},
		"no credentials": {aws.Config{Region: "us-east-1"}, ""},
		"not a URL":      {aws.Config{Region: "us-east-1", Credentials: testCredentials}, "127.0.0.1:9"},
	} {
		if _, err := awskms.New(c.cfg, awskms.Options{Endpoint: c.endpoint}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// FuzzRefusal: whatever a non-200 answer holds, the client returns an
// *Error whose code is bare (no namespace, no colon) and never panics.
func FuzzRefusal(f *testing.F) {
	f.Add(400, "", `{"__type":"com.amazonaws.kms#NotFoundException","message":"gone"}`)
	f.Add(503, "KMSInternalException:http://x/", `{}`)
	f.Add(400, "", `{"code":"a#b#c:d"}`)
	f.Add(500, "", "\x00not json")
	f.Fuzz(func(t *testing.T, status int, errorType, body string) {
		if status < 300 || status > 599 {
			return
		}
		_, endpoint := serve(t, answer{status: status, header: map[string]string{"X-Amzn-ErrorType": errorType}, body: body})
		_, err := ours(t, endpoint, awsbudget.Budget{MaxAttempts: 1}).GenerateMac(context.Background(), keyARN, nil)
		var refusal *awskms.Error
		if !errors.As(err, &refusal) {
			if strings.ContainsFunc(errorType, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				return // not a header value the server could send
			}
			t.Fatalf("err = %v, want an *awskms.Error", err)
		}
		if refusal.Code == "" || strings.ContainsAny(refusal.Code, "#:") || refusal.StatusCode != status {
			t.Errorf("code %q status %d from %q %q", refusal.Code, refusal.StatusCode, errorType, body)
		}
	})
}
