package runsdb

import (
	"github.com/workflowsapi/workflows/internal/runs"
)

// notifyItem is a run's notify target (runs.NotifyTarget), written once
// with the run.
type notifyItem struct {
	URL    string   `dynamodbav:"url"`
	Events []string `dynamodbav:"events"`
}

// notificationItem is one event of a run and its delivery
// (runs.Notification); times are Unix milliseconds.
type notificationItem struct {
	ID                 string     `dynamodbav:"id"`
	Type               string     `dynamodbav:"type"`
	CreatedAt          int64      `dynamodbav:"createdAt"`
	Status             string     `dynamodbav:"status"`
	Attempts           int        `dynamodbav:"attempts,omitempty"`
	LastAttemptAt      int64      `dynamodbav:"lastAttemptAt,omitempty"`
	NextAttemptAt      int64      `dynamodbav:"nextAttemptAt,omitempty"`
	DeliveredAt        int64      `dynamodbav:"deliveredAt,omitempty"`
	LastResponseStatus int        `dynamodbav:"lastResponseStatus,omitempty"`
	LastError          *errorItem `dynamodbav:"lastError,omitempty"`
}

func notifyItemOf(n *runs.NotifyTarget) *notifyItem {
	if n == nil {
		return nil
	}
	return &notifyItem{URL: n.URL, Events: n.Events}
}

func (n *notifyItem) target() *runs.NotifyTarget {
	if n == nil {
		return nil
	}
	return &runs.NotifyTarget{URL: n.URL, Events: n.Events}
}

func notificationItemsOf(list []runs.Notification) []notificationItem {
	if len(list) == 0 {
		return nil
	}
	items := make([]notificationItem, len(list))
	for i, n := range list {
		items[i] = notificationItem{
			ID: n.ID, Type: n.Type, CreatedAt: millis(n.CreatedAt), Status: string(n.Status), Attempts: n.Attempts,
			LastAttemptAt: millis(n.LastAttemptAt), NextAttemptAt: millis(n.NextAttemptAt), DeliveredAt: millis(n.DeliveredAt),
			LastResponseStatus: n.LastResponseStatus, LastError: errorItemOf(n.LastError),
		}
	}
	return items
}

func notificationsOf(items []notificationItem) []runs.Notification {
	if len(items) == 0 {
		return nil
	}
	list := make([]runs.Notification, len(items))
	for i, it := range items {
		list[i] = runs.Notification{
			ID: it.ID, Type: it.Type, CreatedAt: fromMillis(it.CreatedAt), Status: runs.NotificationStatus(it.Status), Attempts: it.Attempts,
			LastAttemptAt: fromMillis(it.LastAttemptAt), NextAttemptAt: fromMillis(it.NextAttemptAt), DeliveredAt: fromMillis(it.DeliveredAt),
			LastResponseStatus: it.LastResponseStatus, LastError: it.LastError.error(),
		}
	}
	return list
}
