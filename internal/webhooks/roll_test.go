package webhooks_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/store"
	"github.com/workflowsapi/workflows/internal/store/webhooksdb"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// gatewayFixture is the API through the local gateway, with the secrets
// service on the same table and sealer, so a test can make webhook
// workflows directly (the workflow routes are another feature's) and check
// what the API rolled with Verify.
type gatewayFixture struct {
	env     *gatewaytest.Env
	service *webhooks.Secrets
}

func startGateway(t *testing.T, opts gatewaytest.Options) gatewayFixture {
	env := gatewaytest.MustStart(t, opts)
	return gatewayFixture{env: env, service: webhooks.NewSecrets(webhooksdb.New(env.Table.Client, env.Table.Name), env.Sealer)}
}

// mustWorkflow writes the head item of a workflow of account on trigger, as
// the workflows adapter does (only the attribute this feature reads), and
// makes its secret if it is a webhook one.
func (g gatewayFixture) mustWorkflow(t *testing.T, account, trigger string) (workflowID, secret string) {
	t.Helper()
	workflowID = ids.New(ids.PrefixWorkflow, time.Now())
	_, err := g.env.Table.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(g.env.Table.Name),
		Item: map[string]types.AttributeValue{
			"PK":          &types.AttributeValueMemberS{Value: store.AccountPK(account)},
			"SK":          &types.AttributeValueMemberS{Value: store.WorkflowSK(workflowID)},
			"triggerType": &types.AttributeValueMemberS{Value: trigger},
			"name":        &types.AttributeValueMemberS{Value: "test workflow"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if trigger == "webhook" {
		if secret, err = g.service.Create(ctx, account, workflowID); err != nil {
			t.Fatal(err)
		}
	}
	return workflowID, secret
}

func (g gatewayFixture) rollURL(workflowID string) string {
	return g.env.URL + strings.Replace(routes.RollWebhookSecret.Path, "{id}", workflowID, 1)
}

func (g gatewayFixture) verifies(t *testing.T, workflowID, secret string, at time.Time) bool {
	t.Helper()
	body := []byte(`{"ping":true}`)
	account, err := g.service.Verify(ctx, workflowID, webhooks.Sign(secret, at, body), body, at)
	if err != nil && err != webhooks.ErrBadSignature {
		t.Fatalf("verify: %v", err)
	}
	return err == nil && account != ""
}

var secretPattern = regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`)

func TestRollWebhookSecret(t *testing.T) {
	var logs gatewaytest.LockedBuffer
	g := startGateway(t, gatewaytest.Options{Logs: &logs})
	key, _ := g.env.MustKey(t, "acct_a")
	workflowID, old := g.mustWorkflow(t, "acct_a", "webhook")
	var shown []string

	t.Run("a roll with a grace period answers 201 with the new secret, the URL and when the old one stops", func(t *testing.T) {
		before := time.Now()
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "application/json", []byte(`{"gracePeriodSeconds":3600}`))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.Data(t)
		secret, _ := data["secret"].(string)
		shown = append(shown, secret)
		if !secretPattern.MatchString(secret) || secret == old {
			t.Fatalf("secret %q", secret)
		}
		if data["workflowId"] != workflowID || data["url"] != g.env.URL+routes.BasePath+"/webhooks/"+workflowID {
			t.Fatalf("answer %s", r.Body)
		}
		until, err := time.Parse(time.RFC3339, data["previousSecretExpiresAt"].(string))
		if err != nil || until.Before(before.Add(time.Hour).Add(-time.Second)) || until.After(time.Now().Add(time.Hour)) {
			t.Fatalf("previousSecretExpiresAt %v (%v), want an hour from now", data["previousSecretExpiresAt"], err)
		}
		t.Run("the old secret verifies within the grace period and not after", func(t *testing.T) {
			if !g.verifies(t, workflowID, old, time.Now()) || !g.verifies(t, workflowID, old, until.Add(-time.Second)) {
				t.Fatal("the old secret is refused within its grace period")
			}
			if g.verifies(t, workflowID, old, until) || g.verifies(t, workflowID, old, until.Add(time.Minute)) {
				t.Fatal("the old secret verifies after its grace period")
			}
		})
		t.Run("the new secret verifies", func(t *testing.T) {
			if !g.verifies(t, workflowID, secret, time.Now()) || !g.verifies(t, workflowID, secret, until.Add(time.Minute)) {
				t.Fatal("the new secret is refused")
			}
		})
		old = secret
	})
	t.Run("a roll with no body stops the old secret at once, and says null", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "", nil)
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.Data(t)
		secret, _ := data["secret"].(string)
		shown = append(shown, secret)
		if v, present := data["previousSecretExpiresAt"]; !present || v != nil {
			t.Fatalf("previousSecretExpiresAt = %v (present %v), want null", v, present)
		}
		if g.verifies(t, workflowID, old, time.Now()) {
			t.Fatal("the old secret still verifies")
		}
		if !g.verifies(t, workflowID, secret, time.Now()) {
			t.Fatal("the new secret is refused")
		}
		old = secret
	})
	t.Run("an explicit grace period of 0 is the same", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "application/json", []byte(`{"gracePeriodSeconds":0}`))
		if r.Status != 201 || r.Data(t)["previousSecretExpiresAt"] != nil {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		secret, _ := r.Data(t)["secret"].(string)
		shown = append(shown, secret)
		if g.verifies(t, workflowID, old, time.Now()) || !g.verifies(t, workflowID, secret, time.Now()) {
			t.Fatal("the secrets did not change over")
		}
		old = secret
	})
	t.Run("the longest grace period is accepted", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "application/json", []byte(`{"gracePeriodSeconds":604800}`))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		secret, _ := r.Data(t)["secret"].(string)
		shown = append(shown, secret)
		if !g.verifies(t, workflowID, old, time.Now().Add(6*24*time.Hour)) {
			t.Fatal("the old secret is refused within a 7-day grace period")
		}
		old = secret
	})

	t.Run("bad grace periods are 400 naming the field and change nothing", func(t *testing.T) {
		for _, tt := range []struct{ name, body, field string }{
			{"negative", `{"gracePeriodSeconds":-1}`, "gracePeriodSeconds"},
			{"over 7 days", `{"gracePeriodSeconds":604801}`, "gracePeriodSeconds"},
			{"huge", `{"gracePeriodSeconds":1e30}`, "gracePeriodSeconds"},
			{"a fraction", `{"gracePeriodSeconds":1.5}`, "gracePeriodSeconds"},
			{"a string", `{"gracePeriodSeconds":"60"}`, "gracePeriodSeconds"},
			{"null", `{"gracePeriodSeconds":null}`, "gracePeriodSeconds"},
			{"an unknown field", `{"gracePeriod":60}`, "gracePeriod"},
			{"a name in another case", `{"GracePeriodSeconds":60}`, "GracePeriodSeconds"},
			{"given twice", `{"gracePeriodSeconds":1,"gracePeriodSeconds":2}`, "gracePeriodSeconds"},
			{"not an object", `[]`, "body"},
			{"malformed", `{"gracePeriodSeconds":`, "body"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "application/json", []byte(tt.body))
				if r.Status != 400 || r.ErrorCode(t) != "VALIDATION_ERROR" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
				details, _ := r.JSON(t)["error"].(map[string]any)["details"].([]any)
				if len(details) == 0 || details[0].(map[string]any)["field"] != tt.field {
					t.Fatalf("details %v, want field %s", details, tt.field)
				}
				if !g.verifies(t, workflowID, old, time.Now()) {
					t.Fatal("a refused roll changed the secret")
				}
			})
		}
	})

	t.Run("404 for a workflow that is another account's or missing, 409 for one not on a webhook trigger", func(t *testing.T) {
		otherAccounts, otherSecret := g.mustWorkflow(t, "acct_b", "webhook")
		manual, _ := g.mustWorkflow(t, "acct_a", "manual")
		r := gatewaytest.Call(t, "POST", g.rollURL(manual), key, "application/json", []byte(`{"gracePeriodSeconds":60}`))
		if r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
			t.Fatalf("a manual workflow: %d %s", r.Status, r.Body)
		}
		for _, tt := range []struct{ name, workflowID string }{
			{"another account's webhook workflow", otherAccounts},
			{"an id that cannot be a workflow's", "wf_nope"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := gatewaytest.Call(t, "POST", g.rollURL(tt.workflowID), key, "application/json", []byte(`{"gracePeriodSeconds":60}`))
				if r.Status != 404 || r.ErrorCode(t) != "NOT_FOUND" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			})
		}
		if !g.verifies(t, otherAccounts, otherSecret, time.Now()) {
			t.Fatal("another account's roll attempt changed its secret")
		}
		if _, err := g.service.Verify(ctx, manual, webhooks.Sign(old, time.Now(), nil), nil, time.Now()); err != webhooks.ErrNoWebhook {
			t.Fatalf("the manual workflow got a secret: %v", err)
		}
	})

	t.Run("403 without workflows:write, and nothing changes", func(t *testing.T) {
		for _, scopes := range [][]domain.Scope{
			{domain.ScopeWorkflowsRead},
			{domain.ScopeWorkflowsExecute, domain.ScopeConnectionsWrite, domain.ScopeKeysWrite},
		} {
			weak, _ := g.env.MustKey(t, "acct_a", scopes...)
			r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), weak, "application/json", []byte(`{}`))
			if r.Status != 403 {
				t.Fatalf("%v: %d %s", scopes, r.Status, r.Body)
			}
			gatewaytest.SameJSON(t, r.Body, gatewaytest.ForbiddenBody)
		}
		if !g.verifies(t, workflowID, old, time.Now()) {
			t.Fatal("a forbidden roll changed the secret")
		}
	})

	t.Run("401 without a key", func(t *testing.T) {
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), "", "application/json", []byte(`{}`))
		if r.Status != 401 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("no secret reaches the logs", func(t *testing.T) {
		all := logs.String()
		if !strings.Contains(all, "webhook secret rolled") {
			t.Fatal("the roll was not logged at all")
		}
		for _, secret := range shown {
			random := strings.TrimPrefix(secret, webhooks.SecretPrefix)
			if strings.Contains(all, random) {
				t.Fatalf("a secret is in the logs")
			}
		}
	})
}
