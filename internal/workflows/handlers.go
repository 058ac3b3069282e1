package workflows

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/routes"
)

// Handlers are the HTTP handlers of the workflow routes. Each function's
// main hands one of them to the pipeline.
type Handlers struct {
	service *Service
}

// NewHandlers returns the handlers on service.
func NewHandlers(service *Service) *Handlers { return &Handlers{service: service} }

// webhookView is where a webhook workflow's deliveries go, and its signing
// secret in the one answer that made it.
type webhookView struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

// workflowView is a workflow as single-workflow answers show it: the
// definition as stored (name trimmed, enabled filled in) and the head's
// facts.
type workflowView struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	Description    string         `json:"description"`
	Enabled        bool           `json:"enabled"`
	Trigger        Trigger        `json:"trigger"`
	InputSchema    jsontext.Value `json:"inputSchema,omitempty"`
	TimeoutSeconds *int           `json:"timeoutSeconds,omitempty"`
	Concurrency    *Concurrency   `json:"concurrency,omitempty"`
	Notify         *Notify        `json:"notify,omitempty"`
	Steps          []Step         `json:"steps"`
	Version        int            `json:"version"`
	CreatedAt      string         `json:"createdAt"`
	UpdatedAt      string         `json:"updatedAt"`
	Webhook        *webhookView   `json:"webhook,omitempty"`
	// NotifySecret is the notification secret in the one answer that made
	// it (Written.NotifySecret).
	NotifySecret string `json:"notifySecret,omitempty"`
}

// summaryView is a workflow as a listing shows it: no steps and no input
// schema, so that a page of 100 workflows stays far below Lambda's 6 MB
// response limit (a definition may be 256 KiB).
type summaryView struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Enabled     bool         `json:"enabled"`
	Trigger     Trigger      `json:"trigger"`
	Version     int          `json:"version"`
	CreatedAt   string       `json:"createdAt"`
	UpdatedAt   string       `json:"updatedAt"`
	Webhook     *webhookView `json:"webhook,omitempty"`
}

// webhookOf is the webhook of a workflow on a webhook trigger (nil for any
// other), its URL on the host and stage the request came in on.
func webhookOf(r *http.Request, workflowID string, trigger Trigger, secret string) *webhookView {
	if trigger.Type != TriggerWebhook {
		return nil
	}
	path := strings.Replace(routes.ReceiveWebhook.Path, "{workflowId}", workflowID, 1)
	return &webhookView{URL: httpapi.PublicURL(r, path), Secret: secret}
}

// viewOf is the view of written's workflow, with the secrets the write
// made, shown this once (none for a read).
func viewOf(r *http.Request, written Written) workflowView {
	w := written.Workflow
	d := w.Definition
	return workflowView{
		ID: w.ID, Name: d.Name, Description: d.Description, Enabled: d.IsEnabled(), Trigger: d.Trigger,
		InputSchema: d.InputSchema, TimeoutSeconds: d.TimeoutSeconds, Concurrency: d.Concurrency, Notify: d.Notify,
		Steps: d.Steps, Version: w.Version, CreatedAt: httpapi.FormatTime(w.CreatedAt), UpdatedAt: httpapi.FormatTime(w.UpdatedAt),
		Webhook: webhookOf(r, w.ID, d.Trigger, written.Secret), NotifySecret: written.NotifySecret,
	}
}

func callerOf(r *http.Request) Caller {
	return Caller{AccountID: httpapi.IdentityOf(r.Context()).AccountID}
}

// writeWorkflow answers with one workflow and its version as ETag, so that
// a client can send it back in If-Match.
func writeWorkflow(w http.ResponseWriter, r *http.Request, status int, written Written) {
	w.Header().Set("ETag", ETag(written.Workflow.Version))
	httpapi.WriteData(w, status, viewOf(r, written))
}

// List is GET /workflows.
func (h *Handlers) List(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := httpapi.ListParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	page, err := h.service.List(r.Context(), callerOf(r), limit, cursor)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WritePage(w, page, func(s Summary) summaryView {
		return summaryView{
			ID: s.ID, Name: s.Name, Description: s.Description, Enabled: s.Enabled, Trigger: s.Trigger,
			Version: s.Version, CreatedAt: httpapi.FormatTime(s.CreatedAt), UpdatedAt: httpapi.FormatTime(s.UpdatedAt),
			Webhook: webhookOf(r, s.ID, s.Trigger, ""),
		}
	})
}

// Create is POST /workflows. The body goes to Parse as it was sent (the
// pipeline has checked its size and type): Parse is as strict as
// httpapi.DecodeJSON and names every problem, not only the first.
func (h *Handlers) Create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	written, err := h.service.Create(r.Context(), callerOf(r), body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "workflow created", "workflow_id", written.Workflow.ID)
	logScheduleError(r, written)
	// Built from the route, not the request, so a request path with a
	// trailing slash still gets a clean Location.
	w.Header().Set("Location", strings.Replace(routes.GetWorkflow.Path, "{id}", written.Workflow.ID, 1))
	writeWorkflow(w, r, http.StatusCreated, written)
}

// Get is GET /workflows/{id}, and with ?version=N that version.
func (h *Handlers) Get(w http.ResponseWriter, r *http.Request) {
	version, err := versionParam(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	wf, err := h.service.Get(r.Context(), callerOf(r), r.PathValue("id"), version)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	writeWorkflow(w, r, http.StatusOK, Written{Workflow: wf})
}

// versionParam reads ?version= (a positive integer, given once); 0 when
// absent. Only the canonical spelling is read: digits, the first not 0
// ("3", never "03", "+3", " 3", "3.0" or "3e0", which strconv.Atoi or a
// float parse would take). A version then has one spelling, as an ETag
// has, so two URLs that differ name two things; and 0 is no version
// (versions start at 1), refused rather than read as "the current one".
func versionParam(r *http.Request) (int, error) {
	raw, given := r.URL.Query()["version"]
	if !given {
		return 0, nil
	}
	if len(raw) > 1 {
		return 0, domain.Invalid(domain.FieldError{Field: "version", Message: "must be given once"})
	}
	refused := domain.Invalid(domain.FieldError{Field: "version", Message: "must be a positive integer written in digits, without a sign or leading zeros"})
	v := raw[0]
	if v == "" || v[0] < '1' || v[0] > '9' {
		return 0, refused
	}
	for i := 1; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, refused
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n > MaxWorkflowStepVersion {
		// The bound a workflow step's version has, so that a version this
		// API names is one a client can hold in a 32-bit integer; the
		// document says it as the parameter's maximum.
		return 0, domain.Invalid(domain.FieldError{Field: "version", Message: fmt.Sprintf("must be at most %d", MaxWorkflowStepVersion)})
	}
	return n, nil
}

// Update is PUT /workflows/{id}.
func (h *Handlers) Update(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	written, err := h.service.Update(r.Context(), callerOf(r), r.PathValue("id"), IfMatch(r.Header.Values("If-Match")), body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "workflow changed", "workflow_id", written.Workflow.ID, "version", written.Workflow.Version)
	logScheduleError(r, written)
	writeWorkflow(w, r, http.StatusOK, written)
}

// deletedView is the answer to a delete, as Stripe's: the id and that it
// is gone.
type deletedView struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

// Delete is DELETE /workflows/{id}.
func (h *Handlers) Delete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, err := h.service.Delete(r.Context(), callerOf(r), id)
	var left SecretLeftError
	var scheduleLeft ScheduleLeftError
	switch {
	case errors.As(err, &scheduleLeft):
		// The workflow is gone; its schedule's firings find no workflow
		// and start nothing until the reconcile deletes it.
		httpapi.Logger(r).ErrorContext(r.Context(), "workflow deleted, its schedule was not", "workflow_id", id, "error", scheduleLeft.Err)
	case errors.As(err, &left):
		// The workflow is gone, which is what the caller asked; the secret
		// left behind is of no use to anyone else (see Service.Delete),
		// and the log says so.
		httpapi.Logger(r).ErrorContext(r.Context(), "workflow deleted, a secret of it was not", "workflow_id", id, "error", left.Err)
	case err != nil:
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "workflow deleted", "workflow_id", id)
	httpapi.WriteData(w, http.StatusOK, deletedView{ID: id, Deleted: true})
}

// logScheduleError logs a schedule that could not follow a workflow write:
// the write stands, and `wfctl schedules sync` repairs the schedule.
func logScheduleError(r *http.Request, written Written) {
	if written.ScheduleError != nil {
		httpapi.Logger(r).ErrorContext(r.Context(), "workflow stored, its schedule was not: run wfctl schedules sync", "workflow_id", written.Workflow.ID, "error", written.ScheduleError)
	}
}
