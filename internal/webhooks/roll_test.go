package webhooks_test

import (
	"regexp"
	"slices"
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

// secretKind is one kind of secret as its roll route's tests see it: the
// route, the service on the gateway's table and sealer (to make secrets
// directly: the workflow routes are another feature's), a head that has a
// secret of the kind and one that has none, what its secrets look like, and
// what its roll says and logs.
type secretKind struct {
	route   *routes.Route
	service func(env *gatewaytest.Env) *webhooks.Secrets
	// head is the head item's attributes of a workflow with (has) or
	// without a secret of the kind, as the workflows adapter writes them.
	head func(has bool) map[string]types.AttributeValue
	// key is the key of a workflow's secret item of the kind.
	key     func(workflowID string) map[string]types.AttributeValue
	pattern *regexp.Regexp
	prefix  string
	// url is the answer's url for the workflow ("" for none: the kind is
	// sent by the API, not received).
	url func(env *gatewaytest.Env, workflowID string) string
	// valid reports whether secret is one the kind's service holds valid
	// at at (Verify for a webhook secret, SigningSecrets for a
	// notification secret: what each is used by).
	valid  func(t *testing.T, s *webhooks.Secrets, account, workflowID, secret string, at time.Time) bool
	logged string
}

var webhookKind = secretKind{
	route: &routes.RollWebhookSecret,
	service: func(env *gatewaytest.Env) *webhooks.Secrets {
		return webhooks.NewSecrets(webhooksdb.New(env.Table.Client, env.Table.Name), env.Sealer)
	},
	head: func(has bool) map[string]types.AttributeValue {
		trigger := "manual"
		if has {
			trigger = "webhook"
		}
		return map[string]types.AttributeValue{"triggerType": &types.AttributeValueMemberS{Value: trigger}}
	},
	key: func(workflowID string) map[string]types.AttributeValue {
		return store.ItemKey(store.WebhookSecretPK(workflowID), store.SortWebhookSecret)
	},
	pattern: secretPattern,
	prefix:  webhooks.SecretPrefix,
	url: func(env *gatewaytest.Env, workflowID string) string {
		return env.URL + routes.BasePath + "/webhooks/" + workflowID
	},
	valid: func(t *testing.T, s *webhooks.Secrets, _, workflowID, secret string, at time.Time) bool {
		t.Helper()
		body := []byte(`{"ping":true}`)
		account, err := s.Verify(ctx, workflowID, webhooks.Sign(secret, at, body), body, at)
		if err != nil && err != webhooks.ErrBadSignature {
			t.Fatalf("verify: %v", err)
		}
		return err == nil && account != ""
	},
	logged: "webhook secret rolled",
}

var notifyKind = secretKind{
	route: &routes.RollNotifySecret,
	service: func(env *gatewaytest.Env) *webhooks.Secrets {
		return webhooks.NewNotifySecrets(webhooksdb.NewNotify(env.Table.Client, env.Table.Name), env.Sealer)
	},
	head: func(has bool) map[string]types.AttributeValue {
		head := map[string]types.AttributeValue{"triggerType": &types.AttributeValueMemberS{Value: "manual"}}
		if has {
			head["hasNotify"] = &types.AttributeValueMemberBOOL{Value: true}
		}
		return head
	},
	key: func(workflowID string) map[string]types.AttributeValue {
		return store.ItemKey(store.NotifySecretPK(workflowID), store.SortNotifySecret)
	},
	pattern: notifySecretPattern,
	prefix:  webhooks.NotifySecretPrefix,
	url:     func(*gatewaytest.Env, string) string { return "" },
	valid: func(t *testing.T, s *webhooks.Secrets, account, workflowID, secret string, at time.Time) bool {
		t.Helper()
		signing, err := s.SigningSecrets(ctx, account, workflowID, at)
		if err != nil {
			t.Fatalf("signing secrets: %v", err)
		}
		return slices.Contains(signing, secret)
	},
	logged: "notification secret rolled",
}

// gatewayFixture is the API through the local gateway, with one kind's
// secrets service on the same table and sealer, so a test can make
// workflows and their secrets directly and check what the API rolled.
type gatewayFixture struct {
	env     *gatewaytest.Env
	kind    secretKind
	service *webhooks.Secrets
}

func startGateway(t *testing.T, kind secretKind, opts gatewaytest.Options) gatewayFixture {
	env := gatewaytest.MustStart(t, opts)
	return gatewayFixture{env: env, kind: kind, service: kind.service(env)}
}

// mustWorkflow writes the head item of a workflow of account, as the
// workflows adapter does (only the attributes this feature reads, and a
// name), with or without a secret of the fixture's kind, and makes the
// secret if it has one.
func (g gatewayFixture) mustWorkflow(t *testing.T, account string, has bool) (workflowID, secret string) {
	t.Helper()
	workflowID = ids.New(ids.PrefixWorkflow, time.Now())
	item := g.kind.head(has)
	item["PK"] = &types.AttributeValueMemberS{Value: store.AccountPK(account)}
	item["SK"] = &types.AttributeValueMemberS{Value: store.WorkflowSK(workflowID)}
	item["name"] = &types.AttributeValueMemberS{Value: "test workflow"}
	if _, err := g.env.Table.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(g.env.Table.Name), Item: item}); err != nil {
		t.Fatal(err)
	}
	if has {
		var err error
		if secret, err = g.service.Create(ctx, account, workflowID); err != nil {
			t.Fatal(err)
		}
	}
	return workflowID, secret
}

func (g gatewayFixture) rollURL(workflowID string) string {
	return g.env.URL + strings.Replace(g.kind.route.Path, "{id}", workflowID, 1)
}

// verifies reports whether secret is valid at at for the account's
// workflow (acct_a's unless said otherwise).
func (g gatewayFixture) verifies(t *testing.T, workflowID, secret string, at time.Time) bool {
	t.Helper()
	return g.verifiesFor(t, "acct_a", workflowID, secret, at)
}

func (g gatewayFixture) verifiesFor(t *testing.T, account, workflowID, secret string, at time.Time) bool {
	t.Helper()
	return g.kind.valid(t, g.service, account, workflowID, secret, at)
}

var (
	secretPattern       = regexp.MustCompile(`^whsec_[A-Za-z0-9_-]{43}$`)
	notifySecretPattern = regexp.MustCompile(`^nsec_[A-Za-z0-9_-]{43}$`)
)

// TestRollWebhookSecret and TestRollNotifySecret hold the two roll routes
// to the same rules: one handler and one service serve both.
func TestRollWebhookSecret(t *testing.T) { testRoll(t, webhookKind) }

func TestRollNotifySecret(t *testing.T) { testRoll(t, notifyKind) }

func testRoll(t *testing.T, kind secretKind) {
	var logs gatewaytest.LockedBuffer
	g := startGateway(t, kind, gatewaytest.Options{Logs: &logs})
	key, _ := g.env.MustKey(t, "acct_a")
	workflowID, old := g.mustWorkflow(t, "acct_a", true)
	var shown []string

	t.Run("a roll with a grace period answers 201 with the new secret, the URL (webhook only) and when the old one stops", func(t *testing.T) {
		before := time.Now()
		r := gatewaytest.Call(t, "POST", g.rollURL(workflowID), key, "application/json", []byte(`{"gracePeriodSeconds":3600}`))
		if r.Status != 201 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		data := r.Data(t)
		secret, _ := data["secret"].(string)
		shown = append(shown, secret)
		if !kind.pattern.MatchString(secret) || secret == old {
			t.Fatalf("secret %q", secret)
		}
		url, _ := data["url"].(string)
		if data["workflowId"] != workflowID || url != kind.url(g.env, workflowID) {
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

	t.Run("404 for a workflow that is another account's or missing, 409 for one without a secret of the kind", func(t *testing.T) {
		otherAccounts, otherSecret := g.mustWorkflow(t, "acct_b", true)
		without, _ := g.mustWorkflow(t, "acct_a", false)
		r := gatewaytest.Call(t, "POST", g.rollURL(without), key, "application/json", []byte(`{"gracePeriodSeconds":60}`))
		if r.Status != 409 || r.ErrorCode(t) != "CONFLICT" {
			t.Fatalf("a workflow without a secret: %d %s", r.Status, r.Body)
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
		if !g.verifiesFor(t, "acct_b", otherAccounts, otherSecret, time.Now()) {
			t.Fatal("another account's roll attempt changed its secret")
		}
		if item := rawSecretItem(t, g, without); item != nil {
			t.Fatalf("the workflow without a secret got one: %v", item)
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
		if !strings.Contains(all, kind.logged) {
			t.Fatal("the roll was not logged at all")
		}
		for _, secret := range shown {
			random := strings.TrimPrefix(secret, kind.prefix)
			if strings.Contains(all, random) {
				t.Fatalf("a secret is in the logs")
			}
		}
	})
}

// rawSecretItem reads the fixture kind's secret item of a workflow as
// stored (nil if there is none).
func rawSecretItem(t *testing.T, g gatewayFixture, workflowID string) map[string]types.AttributeValue {
	t.Helper()
	out, err := g.env.Table.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(g.env.Table.Name), Key: g.kind.key(workflowID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}
