package runs

import (
	"bytes"
	stdjson "encoding/json"
	"errors"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/workflowsapi/workflows/internal/httpapi"
)

// notificationView is one event of a run and its delivery, as GET
// /runs/{id} shows it.
type notificationView struct {
	ID                 string  `json:"id"`
	Type               string  `json:"type"`
	CreatedAt          string  `json:"createdAt"`
	Status             string  `json:"status"`
	Attempts           int     `json:"attempts"`
	LastAttemptAt      *string `json:"lastAttemptAt,omitempty"`
	NextAttemptAt      *string `json:"nextAttemptAt,omitempty"`
	DeliveredAt        *string `json:"deliveredAt,omitempty"`
	LastResponseStatus int     `json:"lastResponseStatus,omitempty"`
	LastError          *Error  `json:"lastError,omitempty"`
}

func notificationViews(list []Notification) []notificationView {
	views := make([]notificationView, len(list))
	for i, n := range list {
		views[i] = notificationView{
			ID: n.ID, Type: n.Type, CreatedAt: httpapi.FormatTime(n.CreatedAt), Status: string(n.Status), Attempts: n.Attempts,
			LastAttemptAt: optionalTime(n.LastAttemptAt), DeliveredAt: optionalTime(n.DeliveredAt),
			LastResponseStatus: n.LastResponseStatus, LastError: n.LastError,
		}
		if n.Status == NotificationPending {
			views[i].NextAttemptAt = optionalTime(n.NextAttemptAt)
		}
	}
	return views
}

// eventView is the body of an event's POST: the run as GET /runs/{id}
// shows it (its steps' outputs cut to 16 KiB), without its notifications.
type eventView struct {
	ID        string  `json:"id"`
	Type      string  `json:"type"`
	CreatedAt string  `json:"createdAt"`
	Data      runView `json:"data"`
}

// MaxEventBytes is the most an event's body may be: an http step's request
// body bound, which the outbound rules hold every POST to.
const MaxEventBytes = 256 << 10

// eventCuts are the bounds an event's outputs are cut to, tried in turn
// until the body fits MaxEventBytes: GET /runs/{id}'s 16 KiB first, then
// less, the run's own input and output too, then the steps left out.
var eventCuts = []int{MaxShownOutputBytes, 1 << 10, 64}

// ErrEventTooLarge: even cut to its last bound, an event's body is over
// MaxEventBytes (not reached with the contract's limits).
var ErrEventTooLarge = errors.New("runs: the event's body is over 256 KiB however its outputs are cut")

// EventBody is the JSON an event's POST carries: {"id", "type",
// "createdAt", "data": <the run>}, the run with its steps (outputs cut as
// in GET /runs/{id}) as it is at the time of sending. A body over
// MaxEventBytes is made again with its outputs cut shorter (the run's
// input and output too), and at last without its steps.
func EventBody(n Notification, run Run, steps []Step) ([]byte, error) {
	if steps == nil {
		steps = []Step{}
	}
	for i, limit := range append(eventCuts, 0) {
		data := viewOf(run, nil)
		if i > 0 {
			data.Input, data.Output = cutTo(run.Input, max(limit, eventCuts[len(eventCuts)-1])), cutTo(run.Output, max(limit, eventCuts[len(eventCuts)-1]))
		}
		if limit > 0 {
			data.Steps = make([]stepView, 0, len(steps))
			for _, st := range steps {
				data.Steps = append(data.Steps, stepViewOf(st, limit))
			}
		}
		var b bytes.Buffer
		enc := stdjson.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(eventView{ID: n.ID, Type: n.Type, CreatedAt: httpapi.FormatTime(n.CreatedAt), Data: data}); err != nil {
			return nil, err
		}
		if body := bytes.TrimSuffix(b.Bytes(), []byte("\n")); len(body) <= MaxEventBytes {
			return body, nil
		}
	}
	return nil, ErrEventTooLarge
}

// cutTo is value cut to limit bytes as GET /runs/{id} cuts a step's
// output (a JSON string of its start), or value itself when it fits.
func cutTo(value jsontext.Value, limit int) jsontext.Value {
	if len(value) <= limit {
		return value
	}
	return cut(value, limit)
}
