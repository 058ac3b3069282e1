package runs

import (
	"bytes"
	stdjson "encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/httpapi"
	"github.com/workflowsapi/workflows/internal/idempotency"
	"github.com/workflowsapi/workflows/internal/ids"
	"github.com/workflowsapi/workflows/internal/routes"
	"github.com/workflowsapi/workflows/internal/signaltoken"
)

// Handlers are the HTTP handlers of the run routes. Each function's main
// hands one of them to the pipeline.
type Handlers struct {
	service *Service
	// signalMAC makes a waiting wait_for_signal step's token again, to
	// show its signalUrl (nil: not shown).
	signalMAC signaltoken.MAC
}

// NewHandlers returns the handlers on service.
func NewHandlers(service *Service) *Handlers { return &Handlers{service: service} }

// WithSignalMAC shows the signalUrl of a waiting wait_for_signal step,
// made with mac (the read routes of a run).
func (h *Handlers) WithSignalMAC(mac signaltoken.MAC) *Handlers {
	h.signalMAC = mac
	return h
}

// runView is a run as the API shows it. A listing leaves out input and
// output (summaryOf): each may be 256 KiB, and a page of 100 runs must
// stay far below Lambda's 6 MB response limit.
type runView struct {
	ID              string         `json:"id"`
	WorkflowID      string         `json:"workflowId"`
	WorkflowVersion int            `json:"workflowVersion"`
	Status          Status         `json:"status"`
	Trigger         Trigger        `json:"trigger"`
	RetryOf         *string        `json:"retryOf"`
	ParentRunID     *string        `json:"parentRunId"`
	Input           jsontext.Value `json:"input"`
	Output          jsontext.Value `json:"output"`
	Error           *Error         `json:"error"`
	CreatedAt       string         `json:"createdAt"`
	StartedAt       *string        `json:"startedAt"`
	FinishedAt      *string        `json:"finishedAt"`
	Steps           []stepView     `json:"steps,omitzero"` // nil: not shown; empty: shown as []
	// Notifications are the run's events and their deliveries (GET
	// /runs/{id} of a run whose workflow has a notify; not in an event's
	// own data).
	Notifications []notificationView `json:"notifications,omitzero"`
}

// summaryView is a run in a listing.
type summaryView struct {
	ID              string  `json:"id"`
	WorkflowID      string  `json:"workflowId"`
	WorkflowVersion int     `json:"workflowVersion"`
	Status          Status  `json:"status"`
	Trigger         Trigger `json:"trigger"`
	RetryOf         *string `json:"retryOf"`
	ParentRunID     *string `json:"parentRunId"`
	Error           *Error  `json:"error"`
	CreatedAt       string  `json:"createdAt"`
	StartedAt       *string `json:"startedAt"`
	FinishedAt      *string `json:"finishedAt"`
}

// stepView is one step of a run. In GET /runs/{id} an output over 16 KiB
// is cut: it shows as a string holding the first 16 KiB of its JSON, and
// truncated is true (GET /runs/{id}/steps/{stepId} has it whole).
// nextAttemptAt is when a waiting step goes on (its next attempt after a
// back-off, or the end of its delay); null in any other status (a running
// step's record holds its attempt's lease there, which is the runner's).
type stepView struct {
	ID            string         `json:"id"`
	Status        StepStatus     `json:"status"`
	Attempts      int            `json:"attempts"`
	StartedAt     *string        `json:"startedAt"`
	FinishedAt    *string        `json:"finishedAt"`
	NextAttemptAt *string        `json:"nextAttemptAt"`
	Output        jsontext.Value `json:"output"`
	Truncated     bool           `json:"truncated"`
	Error         *Error         `json:"error"`
	Reused        bool           `json:"reused"`
	// AttemptHistory is every attempt, oldest first: [] for a step that
	// has none (skipped, reused, a fan-out, or recorded before attempts
	// were kept).
	AttemptHistory []attemptView `json:"attemptHistory"`
	// Items are a fan-out step's items (GET /runs/{id}/steps/{stepId}
	// only): nil for any other step, and not shown.
	Items []itemView `json:"items,omitzero"`
	// ChildRunID is the run a workflow step started (shown for workflow
	// steps only).
	ChildRunID string `json:"childRunId,omitempty"`
	// A wait_for_signal step's: its signalUrl while it waits, when its
	// wait ends and when its signal came.
	SignalURL   string  `json:"signalUrl,omitempty"`
	ExpiresAt   *string `json:"expiresAt,omitzero"`
	SignalledAt *string `json:"signalledAt,omitzero"`
}

// attemptView is one attempt of a step: finishedAt null while it is open
// (running, or waiting on a delay, a signal or a child run).
type attemptView struct {
	Attempt    int        `json:"attempt"`
	Status     StepStatus `json:"status"`
	StartedAt  string     `json:"startedAt"`
	FinishedAt *string    `json:"finishedAt"`
	Error      *Error     `json:"error"`
}

func attemptViews(h []Attempt) []attemptView {
	views := make([]attemptView, len(h))
	for i, a := range h {
		views[i] = attemptView{Attempt: a.Number, Status: a.Status, StartedAt: httpapi.FormatTime(a.StartedAt), FinishedAt: optionalTime(a.FinishedAt), Error: a.Error}
	}
	return views
}

// itemView is one item of a fan-out step: a foreach's item (index) or a
// parallel's inner step (id too). An item no attempt has begun is
// "pending" while its step runs, and "skipped" once the step has ended
// without it (a failure, a cancel, a timeout stopped it); an item left
// running or waiting by a step that ended shows the step's end.
type itemView struct {
	Index         int            `json:"index"`
	ID            *string        `json:"id,omitzero"`
	Status        string         `json:"status"`
	Attempts      int            `json:"attempts"`
	StartedAt     *string        `json:"startedAt"`
	FinishedAt    *string        `json:"finishedAt"`
	NextAttemptAt *string        `json:"nextAttemptAt"`
	Output        jsontext.Value `json:"output"`
	Error         *Error         `json:"error"`
	Reused        bool           `json:"reused"`
}

// itemStatusPending is an item no attempt has begun, while its step runs.
const itemStatusPending = "pending"

// itemViews shows every item of a fan-out step, the ones never begun too.
func itemViews(st Step, items []Item) []itemView {
	views := make([]itemView, st.ItemCount)
	stepEnded := !st.Open()
	// A parallel's record names its inner steps; a foreach's holds its
	// items (an array), which are no names.
	var named struct {
		InnerSteps []string `json:"innerSteps"`
	}
	if st.Items.Kind() == '{' {
		// encoding/json: the strict decoder's reflection would be 0.3 MiB of
		// the read route for this one small object, written by the runner.
		_ = stdjson.Unmarshal(st.Items, &named) // read as far as it goes
	}
	innerIDs := named.InnerSteps
	for i := range views {
		views[i] = itemView{Index: i, Status: itemStatusPending}
		if stepEnded {
			views[i].Status = string(StepSkipped)
		}
		if len(innerIDs) == len(views) {
			views[i].ID = &innerIDs[i]
		}
	}
	for _, it := range items {
		if it.Index < 0 || it.Index >= len(views) {
			continue
		}
		v := itemView{
			Index: it.Index, Status: string(it.Status), Attempts: it.Attempts, StartedAt: optionalTime(it.StartedAt),
			FinishedAt: optionalTime(it.FinishedAt), Output: it.Output, Error: it.Error, Reused: it.Reused,
		}
		if it.ID != "" {
			v.ID = &it.ID
		}
		switch {
		case it.Open() && stepEnded:
			v.Status = string(st.Status)
		case it.Status == StepWaiting:
			v.NextAttemptAt = optionalTime(it.NextAttemptAt)
		}
		views[it.Index] = v
	}
	return views
}

func optionalTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := httpapi.FormatTime(t)
	return &s
}

func optionalString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func viewOf(run Run, steps []Step) runView {
	v := runView{
		ID: run.ID, WorkflowID: run.WorkflowID, WorkflowVersion: run.WorkflowVersion, Status: run.Status,
		Trigger: run.Trigger, RetryOf: optionalString(run.RetryOf), ParentRunID: optionalString(run.ParentRunID), Input: run.Input, Output: run.Output, Error: run.Error,
		CreatedAt: httpapi.FormatTime(run.CreatedAt), StartedAt: optionalTime(run.StartedAt), FinishedAt: optionalTime(run.FinishedAt),
	}
	if steps != nil {
		v.Steps = make([]stepView, 0, len(steps))
		for _, st := range steps {
			v.Steps = append(v.Steps, stepViewOf(st, MaxShownOutputBytes))
		}
	}
	return v
}

func summaryOf(run Run) summaryView {
	return summaryView{
		ID: run.ID, WorkflowID: run.WorkflowID, WorkflowVersion: run.WorkflowVersion, Status: run.Status,
		Trigger: run.Trigger, RetryOf: optionalString(run.RetryOf), ParentRunID: optionalString(run.ParentRunID), Error: run.Error,
		CreatedAt: httpapi.FormatTime(run.CreatedAt), StartedAt: optionalTime(run.StartedAt), FinishedAt: optionalTime(run.FinishedAt),
	}
}

// stepViewOf shows a step, its output cut to maxOutput bytes (0: whole).
func stepViewOf(st Step, maxOutput int) stepView {
	v := stepView{
		ID: st.StepID, Status: st.Status, Attempts: st.Attempts, StartedAt: optionalTime(st.StartedAt),
		FinishedAt: optionalTime(st.FinishedAt), Output: st.Output, Error: st.Error, Reused: st.Reused, ChildRunID: st.ChildRunID,
		AttemptHistory: attemptViews(st.History),
	}
	if st.Status == StepWaiting && st.SignalHash == "" {
		v.NextAttemptAt = optionalTime(st.NextAttemptAt)
	}
	v.ExpiresAt, v.SignalledAt = optionalTime(st.SignalExpiresAt), optionalTime(st.SignalledAt)
	if maxOutput > 0 && len(st.Output) > maxOutput {
		v.Output, v.Truncated = cut(st.Output, maxOutput), true
	}
	return v
}

// cut is the first max bytes of a JSON value's text, whole UTF-8
// characters only, as a JSON string: a cut value is no longer JSON of its
// own, but its start is what a person looking at a run wants to see.
func cut(value jsontext.Value, max int) jsontext.Value {
	head := value[:max]
	for len(head) > 0 && !utf8.Valid(head) {
		head = head[:len(head)-1]
	}
	quoted, err := jsontext.AppendQuote(nil, head)
	if err != nil {
		return jsontext.Value(`""`)
	}
	return quoted
}

func accountOf(r *http.Request) string { return httpapi.IdentityOf(r.Context()).AccountID }

// runLocation is where a run is read, built from the route (not the
// request) so that it is clean whatever path the request took.
func runLocation(runID string) string { return strings.Replace(routes.GetRun.Path, "{id}", runID, 1) }

// startBody is POST /workflows/{id}/run's body: {} or none for an input of
// {}.
type startBody struct {
	Input jsontext.Value `json:"input"`
}

// Start is POST /workflows/{id}/run.
func (h *Handlers) Start(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	req, err := ParseStartBody(r, body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	key, err := idempotency.ParseHeader(r.Header)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	req.AccountID, req.WorkflowID, req.Trigger = accountOf(r), r.PathValue("id"), TriggerManual
	run, replayed, err := h.service.StartOnce(r.Context(), req, key, body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if replayed {
		w.Header().Set(idempotency.ReplayedHeader, "true")
	} else {
		httpapi.Logger(r).InfoContext(r.Context(), "run started", "run_id", run.ID, "workflow_id", run.WorkflowID)
	}
	w.Header().Set("Location", runLocation(run.ID))
	httpapi.WriteData(w, http.StatusAccepted, viewOf(run, nil))
}

// ParseStartBody reads the body of a start: none, or {"input": any JSON}.
func ParseStartBody(r *http.Request, body []byte) (StartRequest, error) {
	var b startBody
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := httpapi.DecodeJSON(r, &b); err != nil {
		return StartRequest{}, err
	}
	return StartRequest{Input: b.Input}, nil
}

// List is GET /runs.
func (h *Handlers) List(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := httpapi.ListParams(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	filter, err := ParseFilter(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	page, err := h.service.List(r.Context(), accountOf(r), filter, limit, cursor)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WritePage(w, page, summaryOf)
}

// ParseFilter reads ?workflowId= (a workflow id), ?status= (a run status)
// and ?parentRunId= (a run id: the runs its workflow steps started), each at
// most once.
func ParseFilter(r *http.Request) (Filter, error) {
	query := r.URL.Query()
	var problems []domain.FieldError
	one := func(name string) string {
		values := query[name]
		if len(values) > 1 {
			problems = append(problems, domain.FieldError{Field: name, Message: "must be given once"})
			return ""
		}
		if len(values) == 1 && values[0] == "" {
			problems = append(problems, domain.FieldError{Field: name, Message: "must not be empty; leave it out to list every run"})
		}
		if len(values) == 1 {
			return values[0]
		}
		return ""
	}
	var f Filter
	if id := one("workflowId"); id != "" {
		if !ids.Valid(ids.PrefixWorkflow, id) {
			problems = append(problems, domain.FieldError{Field: "workflowId", Message: "is not a workflow id (wf_…)"})
		}
		f.WorkflowID = id
	}
	if id := one("parentRunId"); id != "" {
		// A run id that is not one is refused; one of another account's
		// (or none) is a valid filter that matches nothing.
		if !ids.Valid(ids.PrefixRun, id) || strings.ToLower(id) != id {
			problems = append(problems, domain.FieldError{Field: "parentRunId", Message: "is not a run id (run_…)"})
		}
		f.ParentRunID = id
	}
	if status := one("status"); status != "" {
		if !slices.Contains(Statuses, Status(status)) {
			problems = append(problems, domain.FieldError{Field: "status", Message: "must be one of queued, running, waiting, cancelling, succeeded, failed, cancelled, timed_out"})
		}
		f.Status = Status(status)
	}
	if len(problems) > 0 {
		return Filter{}, domain.Invalid(problems...)
	}
	return f, nil
}

// Get is GET /runs/{id}: the run and every step that began.
func (h *Handlers) Get(w http.ResponseWriter, r *http.Request) {
	run, steps, err := h.service.Get(r.Context(), accountOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if steps == nil {
		steps = []Step{} // "steps": [] for a run with none yet
	}
	v := viewOf(run, steps)
	if run.Notify != nil {
		v.Notifications = notificationViews(run.Notifications)
	}
	for i, st := range steps {
		if v.Steps[i].SignalURL, err = h.signalURL(r, run.AccountID, st); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	httpapi.WriteData(w, http.StatusOK, v)
}

// signalURL is the signalUrl of a step waiting for its signal ("" for any
// other step, or where no signal key is wired).
func (h *Handlers) signalURL(r *http.Request, account string, st Step) (string, error) {
	if !st.AwaitsSignal() || h.signalMAC == nil {
		return "", nil
	}
	token, err := signaltoken.Token(r.Context(), h.signalMAC, account, st.RunID, st.StepID, st.SignalNonce)
	if err != nil {
		return "", err
	}
	return httpapi.PublicURL(r, SignalPath(token)), nil
}

// SignalPath is the path of a signal token's route.
func SignalPath(token string) string {
	return strings.Replace(routes.ReceiveSignal.Path, "{token}", token, 1)
}

// GetStep is GET /runs/{id}/steps/{stepId}: one step, its output whole.
func (h *Handlers) GetStep(w http.ResponseWriter, r *http.Request) {
	st, items, err := h.service.Step(r.Context(), accountOf(r), r.PathValue("id"), r.PathValue("stepId"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	v := stepViewOf(st, 0)
	if v.SignalURL, err = h.signalURL(r, accountOf(r), st); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if st.ItemCount > 0 {
		v.Items = itemViews(st, items)
	}
	httpapi.WriteData(w, http.StatusOK, v)
}

// Cancel is POST /runs/{id}/cancel.
func (h *Handlers) Cancel(w http.ResponseWriter, r *http.Request) {
	// Nothing to read, but a body with members is refused rather than
	// ignored: a caller sending options expects them to mean something.
	if err := httpapi.DecodeJSON(r, &struct{}{}); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	run, err := h.service.Cancel(r.Context(), accountOf(r), r.PathValue("id"))
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "run cancel", "run_id", run.ID, "status", run.Status)
	httpapi.WriteData(w, http.StatusOK, viewOf(run, nil))
}

// retryBody is POST /runs/{id}/retry's body: none, {}, or
// {"from": "failed_step"}.
type retryBody struct {
	// From is a pointer so that "from": "" is refused, not taken for absent.
	From *string `json:"from"`
}

// RetryFromFailedStep is the one value of a retry's from.
const RetryFromFailedStep = "failed_step"

// ParseRetryBody reads a retry's body and says whether it starts from the
// failed step.
func ParseRetryBody(r *http.Request) (fromFailedStep bool, err error) {
	var b retryBody
	if err := httpapi.DecodeJSON(r, &b); err != nil {
		return false, err
	}
	switch {
	case b.From == nil:
		return false, nil
	case *b.From == RetryFromFailedStep:
		return true, nil
	}
	return false, domain.Invalid(domain.FieldError{Field: "from", Message: `must be "failed_step" (or left out to run every step again)`})
}

// Retry is POST /runs/{id}/retry: 202 with the new run. An
// Idempotency-Key holds it as it holds a start (RetryOnce).
func (h *Handlers) Retry(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	fromFailedStep, err := ParseRetryBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	key, err := idempotency.ParseHeader(r.Header)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	run, replayed, err := h.service.RetryOnce(r.Context(), accountOf(r), r.PathValue("id"), fromFailedStep, key, body)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if replayed {
		w.Header().Set(idempotency.ReplayedHeader, "true")
	} else {
		httpapi.Logger(r).InfoContext(r.Context(), "run retried", "run_id", run.ID, "retry_of", run.RetryOf)
	}
	w.Header().Set("Location", runLocation(run.ID))
	httpapi.WriteData(w, http.StatusAccepted, viewOf(run, nil))
}

// SignalHandlers are the handlers of the signal routes.
type SignalHandlers struct {
	signals *Signals
}

// NewSignalHandlers returns the handlers on signals.
func NewSignalHandlers(signals *Signals) *SignalHandlers { return &SignalHandlers{signals: signals} }

// signalBody is a signal's body: none, {} or {"data": any JSON}.
type signalBody struct {
	Data jsontext.Value `json:"data"`
}

// ParseSignalBody reads a signal's body: its data (nil when none, which
// the step records as null).
func ParseSignalBody(r *http.Request) (jsontext.Value, error) {
	var b signalBody
	if err := httpapi.DecodeJSON(r, &b); err != nil {
		return nil, err
	}
	if len(b.Data) > MaxStepOutputBytes {
		return nil, domain.Invalid(domain.FieldError{Field: "data", Message: "must be at most 256 KiB of JSON: it becomes the step's output"})
	}
	return b.Data, nil
}

// Signal is POST /runs/{id}/signals/{stepId}: 200 with the run.
func (h *SignalHandlers) Signal(w http.ResponseWriter, r *http.Request) {
	data, err := ParseSignalBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	run, steps, err := h.signals.Signal(r.Context(), accountOf(r), r.PathValue("id"), r.PathValue("stepId"), data)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "run signalled", "run_id", run.ID, "step_id", r.PathValue("stepId"))
	if steps == nil {
		steps = []Step{}
	}
	httpapi.WriteData(w, http.StatusOK, viewOf(run, steps))
}

// signalledView is what a signal by token answers: the step it completed,
// not the run (its holder has no key to read it).
type signalledView struct {
	RunID       string     `json:"runId"`
	StepID      string     `json:"stepId"`
	Status      StepStatus `json:"status"`
	SignalledAt string     `json:"signalledAt"`
}

// SignalByToken is POST /signals/{token}: 200 with the step signalled, 404
// for a token unknown, used or expired. The token is never logged.
func (h *SignalHandlers) SignalByToken(w http.ResponseWriter, r *http.Request) {
	data, err := ParseSignalBody(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	st, err := h.signals.SignalByToken(r.Context(), r.PathValue("token"), data)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.Logger(r).InfoContext(r.Context(), "run signalled by its signalUrl", "run_id", st.RunID, "step_id", st.StepID)
	httpapi.WriteData(w, http.StatusOK, signalledView{RunID: st.RunID, StepID: st.StepID, Status: st.Status, SignalledAt: httpapi.FormatTime(st.SignalledAt)})
}
