package workflows_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/dynamotest"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	"github.com/workflowsapi/workflows/internal/workflows"
	"github.com/workflowsapi/workflows/internal/workflows/definition"
)

// fakeSecrets is workflows.Secrets in memory, with failures on demand: the
// service's handling of the secrets is tested here, the real secrets in
// internal/webhooks.
type fakeSecrets struct {
	mu        sync.Mutex
	secrets   map[string]string // workflow id -> secret
	made      int
	failNext  error
	failWrite bool
}

func (f *fakeSecrets) Create(_ context.Context, _, workflowID string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrite {
		return "", f.failNext
	}
	f.made++
	secret := "whsec_fake" + string(rune('a'+f.made))
	f.secrets[workflowID] = secret
	return secret, nil
}

func (f *fakeSecrets) Delete(_ context.Context, _, workflowID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrite {
		return f.failNext
	}
	delete(f.secrets, workflowID)
	return nil
}

const (
	manualBody  = `{"name":"m","trigger":{"type":"manual"},"steps":[{"id":"a","type":"delay","with":{"seconds":1}}]}`
	webhookBody = `{"name":"w","trigger":{"type":"webhook"},"steps":[{"id":"a","type":"delay","with":{"seconds":1}}]}`
)

func newService(t *testing.T) (*workflows.Service, *fakeSecrets, dynamotest.Table) {
	t.Helper()
	table := dynamotest.MustTable(t)
	secrets := &fakeSecrets{secrets: map[string]string{}}
	return workflows.NewService(workflowsdb.New(table.Client, table.Name), nil, secrets, nil).WithRules(definition.Rules{}), secrets, table
}

func code(err error) domain.Code { return domain.ErrorCode(err) }

func TestTheSecretFollowsTheTrigger(t *testing.T) {
	service, secrets, _ := newService(t)
	ctx, caller := context.Background(), workflows.Caller{AccountID: "acct_svc"}

	made, err := service.Create(ctx, caller, []byte(webhookBody))
	if err != nil || made.Secret == "" || secrets.secrets[made.Workflow.ID] != made.Secret {
		t.Fatalf("create: %+v %v", made, err)
	}
	id := made.Workflow.ID
	if w, err := service.Update(ctx, caller, id, nil, []byte(webhookBody)); err != nil || w.Secret != "" || secrets.made != 1 {
		t.Fatalf("a change that stays webhook: %+v %v (secrets made %d)", w, err, secrets.made)
	}
	if w, err := service.Update(ctx, caller, id, nil, []byte(manualBody)); err != nil || w.Secret != "" || len(secrets.secrets) != 0 {
		t.Fatalf("a change to manual: %+v %v %v", w, err, secrets.secrets)
	}
	if w, err := service.Update(ctx, caller, id, nil, []byte(manualBody)); err != nil || secrets.made != 1 {
		t.Fatalf("a change that stays manual: %+v %v", w, err)
	}
	w, err := service.Update(ctx, caller, id, nil, []byte(webhookBody))
	if err != nil || w.Secret == "" || w.Secret == made.Secret || w.Workflow.Version != 5 {
		t.Fatalf("a change back to webhook: %+v %v", w, err)
	}

	t.Run("a secret that cannot be dropped does not undo the delete", func(t *testing.T) {
		secrets.failWrite, secrets.failNext = true, errors.New("the secret store is down")
		_, err := service.Delete(ctx, caller, id)
		var left workflows.SecretLeftError
		if !errors.As(err, &left) {
			t.Fatalf("delete: %v, want SecretLeftError", err)
		}
		if _, err := service.Get(ctx, caller, id, 0); code(err) != domain.CodeNotFound {
			t.Fatalf("get after delete: %v", err)
		}
	})
	t.Run("a secret that cannot be made fails the create, which leaves no workflow", func(t *testing.T) {
		if _, err := service.Create(ctx, caller, []byte(webhookBody)); err == nil {
			t.Fatal("create succeeded")
		}
		page, err := service.List(ctx, caller, 100, "")
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("list: %+v %v", page, err)
		}
	})
}

// TestALostRace: a change that finds the next version's item being written
// by another request is 412 for a caller who gave If-Match and 409 for one
// who did not; a change of a workflow deleted meanwhile is 404.
func TestALostRace(t *testing.T) {
	service, _, table := newService(t)
	ctx, caller := context.Background(), workflows.Caller{AccountID: "acct_race"}
	made, err := service.Create(ctx, caller, []byte(manualBody))
	if err != nil {
		t.Fatal(err)
	}
	id := made.Workflow.ID
	// Another writer's version 2, written a moment ago, the head not yet
	// moved to it.
	item := store.ItemKey(store.AccountPK(caller.AccountID), store.WorkflowVersionSK(id, 2))
	item["writeId"] = &types.AttributeValueMemberS{Value: "in-flight"}
	item["writtenAt"] = store.NumberAV(time.Now().UnixMilli())
	if _, err := table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
	if _, err := service.Update(ctx, caller, id, nil, []byte(manualBody)); code(err) != domain.CodeConflict {
		t.Fatalf("without If-Match: %v, want CONFLICT", err)
	}
	if _, err := service.Update(ctx, caller, id, workflows.IfMatch([]string{`"1"`}), []byte(manualBody)); code(err) != domain.CodePreconditionFailed {
		t.Fatalf("with If-Match: %v, want PRECONDITION_FAILED", err)
	}
	if got, err := service.Get(ctx, caller, id, 0); err != nil || got.Version != 1 {
		t.Fatalf("after the lost races: %+v %v", got, err)
	}
	if _, err := service.Delete(ctx, caller, id); err != nil {
		t.Fatal(err)
	}
	if _, err := service.Update(ctx, caller, id, nil, []byte(manualBody)); code(err) != domain.CodeNotFound {
		t.Fatalf("after a delete: %v, want NOT_FOUND", err)
	}
}

const notifyBody = `{"name":"n","trigger":{"type":"manual"},"notify":{"url":"https://hooks.example/runs","events":["run.failed"]},"steps":[{"id":"a","type":"delay","with":{"seconds":1}}]}`

func TestTheNotifySecretFollowsNotify(t *testing.T) {
	service, webhookSecrets, _ := newService(t)
	notifySecrets := &fakeSecrets{secrets: map[string]string{}}
	service.WithNotifySecrets(notifySecrets)
	ctx, caller := context.Background(), workflows.Caller{AccountID: "acct_svc"}

	made, err := service.Create(ctx, caller, []byte(notifyBody))
	if err != nil || made.NotifySecret == "" || made.Secret != "" || notifySecrets.secrets[made.Workflow.ID] != made.NotifySecret || len(webhookSecrets.secrets) != 0 {
		t.Fatalf("create: %+v %v", made, err)
	}
	id := made.Workflow.ID
	changedURL := strings.Replace(notifyBody, "/runs", "/other", 1)
	if w, err := service.Update(ctx, caller, id, nil, []byte(changedURL)); err != nil || w.NotifySecret != "" || notifySecrets.made != 1 {
		t.Fatalf("a change that keeps notify: %+v %v (secrets made %d)", w, err, notifySecrets.made)
	}
	if w, err := service.Update(ctx, caller, id, nil, []byte(manualBody)); err != nil || w.NotifySecret != "" || len(notifySecrets.secrets) != 0 {
		t.Fatalf("a change that removes notify: %+v %v %v", w, err, notifySecrets.secrets)
	}
	w, err := service.Update(ctx, caller, id, nil, []byte(notifyBody))
	if err != nil || w.NotifySecret == "" || w.NotifySecret == made.NotifySecret || notifySecrets.made != 2 {
		t.Fatalf("a change that gives it notify again: %+v %v", w, err)
	}

	t.Run("a webhook workflow with notify gets both, and a delete that cannot drop one still drops the other", func(t *testing.T) {
		both := strings.Replace(notifyBody, `"manual"`, `"webhook"`, 1)
		made, err := service.Create(ctx, caller, []byte(both))
		if err != nil || made.Secret == "" || made.NotifySecret == "" {
			t.Fatalf("create: %+v %v", made, err)
		}
		webhookSecrets.failWrite, webhookSecrets.failNext = true, errors.New("the secret store is down")
		defer func() { webhookSecrets.failWrite = false }()
		_, err = service.Delete(ctx, caller, made.Workflow.ID)
		var left workflows.SecretLeftError
		if !errors.As(err, &left) || !strings.Contains(err.Error(), "webhook") {
			t.Fatalf("delete: %v, want a SecretLeftError naming the webhook secret", err)
		}
		if _, there := notifySecrets.secrets[made.Workflow.ID]; there {
			t.Fatal("the notification secret was left behind with the webhook one")
		}
	})
	t.Run("without notification secrets wired a create with notify fails and stores nothing", func(t *testing.T) {
		bare, _, _ := newService(t)
		if _, err := bare.Create(ctx, caller, []byte(notifyBody)); err == nil {
			t.Fatal("create succeeded")
		}
		if page, err := bare.List(ctx, caller, 100, ""); err != nil || len(page.Items) != 0 {
			t.Fatalf("list: %+v %v", page, err)
		}
	})
}
