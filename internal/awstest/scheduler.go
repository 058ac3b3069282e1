package awstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
)

// MustSchedulerClient is an EventBridge Scheduler client for moto, as
// MustKMSClient is for KMS: fixed local credentials on the client only.
// optFns are applied last (to count calls).
func MustSchedulerClient(tb testing.TB, optFns ...func(*scheduler.Options)) *scheduler.Client {
	tb.Helper()
	endpoint := Endpoint(tb)
	base := func(o *scheduler.Options) {
		o.Region = Region
		o.Credentials = credentials.NewStaticCredentialsProvider("testing", "testing", "")
		o.BaseEndpoint = aws.String(endpoint)
	}
	return scheduler.New(scheduler.Options{}, append([]func(*scheduler.Options){base}, optFns...)...)
}

// MustScheduleGroup creates a schedule group in moto for one test and
// returns its name; it is deleted (with its schedules) when the test ends.
func MustScheduleGroup(tb testing.TB) string {
	tb.Helper()
	admin := MustSchedulerClient(tb)
	// Group names take [0-9a-zA-Z-_.] up to 64 characters.
	name := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, tb.Name())
	if len(name) > 50 {
		name = name[:50]
	}
	name += "-" + time.Now().Format("150405.000")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String(name)}); err != nil {
		tb.Fatalf("create a schedule group in moto: %v", err)
	}
	tb.Cleanup(func() {
		_, _ = admin.DeleteScheduleGroup(context.Background(), &scheduler.DeleteScheduleGroupInput{Name: aws.String(name)})
	})
	return name
}

// Scheduler is a scheduler option attaching Count.
func (c *Calls) Scheduler(o *scheduler.Options) { o.APIOptions = append(o.APIOptions, c.Count) }
