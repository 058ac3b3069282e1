package ratelimit_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// A fault is what faults makes one attempt meet instead of the engine.
type fault int

const (
	noFault fault = iota
	// throttled answers 400 with the error code in faults.code, as DynamoDB
	// answers a hot item (ProvisionedThroughputExceededException), a hot
	// partition (ThrottlingException) or the account's limit
	// (RequestLimitExceeded).
	throttled
	// serverError answers 500 InternalServerError.
	serverError
	// hang never answers: the attempt waits until its context ends, as a
	// request to a hung engine does.
	hang
)

// faults injects DynamoDB trouble into a client, attempt by attempt. It sits
// innermost in the SDK's middleware stack, where the request would be sent, and
// answers with what DynamoDB would send, so that everything above it (the
// SDK's error deserializer, its retryer, the store's deadlines) handles the
// fault exactly as it would the real thing. It also counts attempts, which
// the dynamotest call counter (once per call) cannot see.
type faults struct {
	mu       sync.Mutex
	fault    fault
	code     string           // the error code of throttled
	only     string           // if set, only this operation meets the fault
	attempts map[string]int   // by operation
	decide   func(n int) bool // if set, attempt n (from 1, all operations) meets the fault only if it says so
}

// Attach is a dynamodb option that puts f in a client.
func (f *faults) Attach(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("InjectFaults", f.handle), middleware.After)
	})
}

func (f *faults) set(fl fault, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.code = fl, code
}

// Attempts returns the attempts made by operation, and forgets them.
func (f *faults) Attempts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.attempts
	f.attempts = nil
	return out
}

func (f *faults) handle(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	op := awsmiddleware.GetOperationName(ctx)
	f.mu.Lock()
	if f.attempts == nil {
		f.attempts = map[string]int{}
	}
	f.attempts[op]++
	n := 0
	for _, v := range f.attempts {
		n += v
	}
	fl, code := f.fault, f.code
	if (f.only != "" && op != f.only) || (f.decide != nil && !f.decide(n)) {
		fl = noFault
	}
	f.mu.Unlock()

	req, _ := in.Request.(*smithyhttp.Request)
	switch fl {
	case throttled:
		return answer(req, http.StatusBadRequest, code), middleware.Metadata{}, nil
	case serverError:
		return answer(req, http.StatusInternalServerError, "InternalServerError"), middleware.Metadata{}, nil
	case hang:
		<-ctx.Done()
		// What smithy's HTTP client returns for a request whose context
		// ended before an answer came.
		return middleware.DeserializeOutput{}, middleware.Metadata{}, &smithy.CanceledError{Err: ctx.Err()}
	}
	return next.HandleDeserialize(ctx, in)
}

// answer is an error response as DynamoDB writes it (JSON 1.0, the error's
// shape in __type).
func answer(req *smithyhttp.Request, status int, code string) middleware.DeserializeOutput {
	body := fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":"injected by the test"}`, code)
	var httpReq *http.Request
	if req != nil {
		httpReq = req.Request
	}
	return middleware.DeserializeOutput{RawResponse: &smithyhttp.Response{Response: &http.Response{
		StatusCode: status,
		Header: http.Header{
			"Content-Type":     {"application/x-amz-json-1.0"},
			"X-Amzn-Requestid": {"injected"},
			// DynamoDB signs every body with its CRC32, which the SDK checks.
			"X-Amz-Crc32": {strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10)},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       httpReq,
	}}}
}
