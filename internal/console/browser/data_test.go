package browser

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workflowsapi/workflows/internal/gatewaytest"
	"github.com/workflowsapi/workflows/internal/webhooks"
)

// shop is the services the workflows call: a test server on 127.0.0.1
// answering as an order system, a CRM, a mailer, a ledger and a payment
// processor would, the same way every time (no Date header), so that the
// outputs in the screenshots do not change from one run to the next.
type shop struct {
	*httptest.Server
	gate     chan struct{} // POST /reports/render waits for it to close
	gateOnce sync.Once
}

func newShop(t *testing.T) *shop {
	s := &shop{gate: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.release()
		s.Close()
	})
	return s
}

// release lets every held POST /reports/render answer.
func (s *shop) release() { s.gateOnce.Do(func() { close(s.gate) }) }

var orders = map[string]string{
	"A-1042": `{"id": "A-1042", "total": 249.5, "currency": "EUR", "customer": {"name": "Ada Lovelace", "email": "ada@analytical.example"}, "items": 3}`,
	"A-1043": `{"id": "A-1043", "total": 38.9, "currency": "EUR", "customer": {"name": "Alan Turing", "email": "alan@bletchley.example"}, "items": 1}`,
	"A-1044": `{"id": "A-1044", "total": 1310, "currency": "EUR", "customer": {"name": "Grace Hopper", "email": "grace@cobol.example"}, "items": 12}`,
	"R-7781": `{"id": "R-7781", "total": 89, "currency": "EUR", "customer": {"name": "Edsger Dijkstra", "email": "edsger@eindhoven.example"}, "items": 2}`,
	"R-7782": `{"id": "R-7782", "total": 412, "currency": "EUR", "customer": {"name": "Barbara Liskov", "email": "barbara@clu.example"}, "items": 4}`,
}

func (s *shop) serve(w http.ResponseWriter, r *http.Request) {
	w.Header()["Date"] = nil
	body, _ := io.ReadAll(r.Body)
	answer := func(status int, doc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, doc)
	}
	path := r.URL.Path
	switch {
	case r.Method == "GET" && strings.HasPrefix(path, "/orders/"):
		if o, ok := orders[strings.TrimPrefix(path, "/orders/")]; ok {
			answer(200, o)
			return
		}
		answer(404, `{"error": "no such order"}`)
	case r.Method == "POST" && path == "/hooks/notify":
		answer(200, `{"delivered": true, "channel": "#big-orders"}`)
	case r.Method == "GET" && path == "/invoices":
		answer(200, `{"invoices": [{"id": "INV-2041", "amount": 1200}, {"id": "INV-2042", "amount": 310.4}, {"id": "INV-2043", "amount": 89.99}, {"id": "INV-2044", "amount": 4500}]}`)
	case r.Method == "POST" && path == "/ledger/entries":
		var in struct {
			Invoice string `json:"invoice"`
		}
		_ = json.Unmarshal(body, &in)
		answer(201, fmt.Sprintf(`{"entry": "LE-%s", "posted": true}`, strings.TrimPrefix(in.Invoice, "INV-")))
	case r.Method == "GET" && strings.HasPrefix(path, "/people/"):
		email := strings.TrimPrefix(path, "/people/")
		answer(200, fmt.Sprintf(`{"email": %q, "name": "Grace Hopper", "title": "Rear Admiral", "location": "Arlington, VA"}`, email))
	case r.Method == "GET" && strings.HasPrefix(path, "/companies/"):
		answer(200, fmt.Sprintf(`{"domain": %q, "name": "Hopper Compilers Inc.", "employees": 1200, "industry": "Software"}`, strings.TrimPrefix(path, "/companies/")))
	case r.Method == "POST" && path == "/crm/owners":
		answer(201, `{"owner": "marie.curie@sales.example", "team": "Enterprise EMEA"}`)
	case r.Method == "POST" && path == "/mail/invite":
		var in struct {
			To string `json:"to"`
		}
		_ = json.Unmarshal(body, &in)
		answer(202, fmt.Sprintf(`{"queued": true, "to": %q}`, in.To))
	case r.Method == "POST" && path == "/payments/charge":
		// The processor is down: a 503 asking for a second's patience, so
		// the two attempts have a visible gap between them.
		w.Header().Set("Retry-After", "1")
		answer(503, `{"error": "card processor unavailable"}`)
	case r.Method == "POST" && path == "/payments/refunds":
		answer(201, `{"refund": "re_8KQ2M4", "status": "pending"}`)
	case r.Method == "POST" && path == "/reports/render":
		select {
		case <-s.gate:
		case <-r.Context().Done():
			return
		}
		answer(200, `{"pages": 14, "url": "https://reports.example/2026-11.pdf"}`)
	default:
		answer(404, `{"error": "not found"}`)
	}
}

// The workflows, as a team would name and write them: every step type, and
// a parallel, a foreach and condition jumps so that a graph has branches.
// %[1]s is the shop's URL.
const (
	notifyBigOrders = `{"name": "Notify big orders", "description": "Tell the sales channel about orders over 100 EUR.",
	  "trigger": {"type": "manual"},
	  "steps": [
	    {"id": "order", "type": "http", "with": {"method": "GET", "url": "%[1]s/orders/{{ .input.orderId }}"}, "retry": {"maxAttempts": 3}, "timeoutSeconds": 10},
	    {"id": "summary", "type": "transform", "with": {"jq": ".steps.order.output.body | {id, total, customer: .customer.name}"}},
	    {"id": "isBig", "type": "condition", "with": {"jq": ".steps.summary.output.total > 100"}, "else": "end"},
	    {"id": "pause", "type": "delay", "with": {"seconds": 1}},
	    {"id": "notify", "type": "http", "with": {"method": "POST", "url": "%[1]s/hooks/notify", "body": {"order": "{{ .steps.summary.output.id }}", "customer": "{{ .steps.summary.output.customer }}"}}}
	  ]}`

	syncInvoices = `{"name": "Sync invoices to ledger", "description": "Every night, post the day's invoices to the ledger.",
	  "trigger": {"type": "schedule", "cron": "0 2 * * *", "timezone": "Europe/Berlin"},
	  "steps": [
	    {"id": "fetch", "type": "http", "with": {"method": "GET", "url": "%[1]s/invoices"}, "retry": {"maxAttempts": 3}},
	    {"id": "post", "type": "foreach", "with": {"items": ".steps.fetch.output.body.invoices", "concurrency": 4,
	      "step": {"type": "http", "with": {"method": "POST", "url": "%[1]s/ledger/entries", "body": {"invoice": "{{ .item.id }}", "amount": "{{ .item.amount }}"}}}}},
	    {"id": "report", "type": "transform", "with": {"jq": "{posted: (.steps.post.output | length), total: ([.steps.fetch.output.body.invoices[].amount] | add)}"}}
	  ]}`

	onboardCustomer = `{"name": "Onboard new customer", "description": "Enrich a signup, give big accounts a manager, invite the team.",
	  "trigger": {"type": "webhook"},
	  "steps": [
	    {"id": "enrich", "type": "parallel", "with": {"steps": [
	      {"id": "profile", "type": "http", "with": {"method": "GET", "url": "%[1]s/people/{{ .input.email }}"}},
	      {"id": "company", "type": "http", "with": {"method": "GET", "url": "%[1]s/companies/{{ .input.company }}"}},
	      {"id": "risk", "type": "transform", "with": {"jq": "{score: ((.input.seats | length) * 10), band: \"low\"}"}}]}},
	    {"id": "isEnterprise", "type": "condition", "with": {"jq": ".steps.enrich.output.company.body.employees >= 500"}, "else": "invite"},
	    {"id": "assignManager", "type": "http", "with": {"method": "POST", "url": "%[1]s/crm/owners", "body": {"company": "{{ .input.company }}"}}},
	    {"id": "invite", "type": "foreach", "with": {"items": ".input.seats", "concurrency": %[2]d,
	      "step": {"type": "http", "with": {"method": "POST", "url": "%[1]s/mail/invite", "body": {"to": "{{ .item }}"}}}}},
	    {"id": "welcome", "type": "transform", "with": {"jq": "{company: .input.company, invited: (.steps.invite.output | length)}"}}
	  ]}`

	refundApproval = `{"name": "Refund approval", "description": "Hold a refund until someone in support approves it.",
	  "trigger": {"type": "manual"},
	  "steps": [
	    {"id": "lookup", "type": "http", "with": {"method": "GET", "url": "%[1]s/orders/{{ .input.orderId }}"}},
	    {"id": "approve", "type": "wait_for_signal", "with": {"timeoutSeconds": 86400}},
	    {"id": "approved", "type": "condition", "with": {"jq": ".steps.approve.output.approved == true"}, "else": "end"},
	    {"id": "refund", "type": "http", "with": {"method": "POST", "url": "%[1]s/payments/refunds", "body": {"order": "{{ .input.orderId }}", "by": "{{ .steps.approve.output.by }}"}}}
	  ]}`

	chargeRenewals = `{"name": "Charge subscription renewals", "description": "Charge a customer's card when their plan renews.",
	  "trigger": {"type": "manual"},
	  "steps": [
	    {"id": "plan", "type": "transform", "with": {"jq": "{customer: .input.customer, plan: \"Team\", amount: 49}"}},
	    {"id": "charge", "type": "http", "with": {"method": "POST", "url": "%[1]s/payments/charge", "body": {"customer": "{{ .input.customer }}", "amount": "{{ .steps.plan.output.amount }}"}}, "retry": {"maxAttempts": 2}, "timeoutSeconds": 10},
	    {"id": "receipt", "type": "transform", "with": {"jq": "{sent: true, to: .input.customer}"}}
	  ]}`

	monthlyReport = `{"name": "Publish monthly report", "description": "Render last month's numbers and post the PDF.",
	  "trigger": {"type": "manual"},
	  "steps": [
	    {"id": "collect", "type": "transform", "with": {"jq": "{month: .input.month, orders: 1284, revenue: 98211.4}"}},
	    {"id": "render", "type": "http", "with": {"method": "POST", "url": "%[1]s/reports/render", "body": {"month": "{{ .input.month }}"}}, "timeoutSeconds": 900},
	    {"id": "publish", "type": "transform", "with": {"jq": "{published: .steps.render.output.body.url}"}}
	  ]}`

	legacyExport = `{"name": "Legacy CSV export", "description": "Replaced by the ledger sync; kept for its history.", "enabled": false,
	  "trigger": {"type": "manual"},
	  "steps": [{"id": "export", "type": "transform", "with": {"jq": "{rows: 0}"}}]}`
)

// definition fills a workflow's definition with the shop's URL.
func (s *shop) definition(doc string, extra ...any) string {
	if !strings.Contains(doc, "%[1]s") {
		return doc
	}
	return fmt.Sprintf(doc, append([]any{s.URL}, extra...)...)
}

// workflow creates a workflow and returns its id and the create answer.
func (st *site) workflow(t *testing.T, key, definition string) (string, map[string]any) {
	t.Helper()
	d := st.data(t, key, 201, "POST", "/workflows", definition)
	return d["id"].(string), d
}

// start starts a run and returns its id.
func (st *site) start(t *testing.T, key, workflowID, input string) string {
	t.Helper()
	return st.data(t, key, 202, "POST", "/workflows/"+workflowID+"/run", `{"input": `+input+`}`)["id"].(string)
}

// deliver sends a signed webhook delivery and returns the run it started.
func (st *site) deliver(t *testing.T, workflowID, secret, body string) string {
	t.Helper()
	header := http.Header{"X-Webhook-Signature": {webhooks.Sign(secret, time.Now(), []byte(body))}}
	r := gatewaytest.CallWith(t, "POST", st.api+"/webhooks/"+workflowID, "", "application/json", header, []byte(body))
	if r.Status != 202 {
		t.Fatalf("webhook delivery: %d %s", r.Status, r.Body)
	}
	return r.Data(t)["runId"].(string)
}
