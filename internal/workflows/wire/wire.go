// Package wire builds each function of the workflows feature that writes no
// definition (the reads and the delete): the one constructor that its main
// and the local gateway both call. What differs between the two is passed
// in: the sealer of the workflow's secrets (KMS, or a local key file) and
// the scheduler of schedule workflows (EventBridge Scheduler, or the local
// gateway's own). The create and update routes are wire/writes, which
// links the definition's rules and compilers (internal/workflows/definition);
// this package does not, so neither do the reads.
package wire

import (
	"net/http"

	"github.com/workflowsapi/workflows/internal/lambdaenv"
	"github.com/workflowsapi/workflows/internal/schedules"
	"github.com/workflowsapi/workflows/internal/secrets"
	"github.com/workflowsapi/workflows/internal/store/connectionsdb"
	"github.com/workflowsapi/workflows/internal/store/schedulesdb"
	"github.com/workflowsapi/workflows/internal/store/workflowsdb"
	webhookswire "github.com/workflowsapi/workflows/internal/webhooks/wire"
	"github.com/workflowsapi/workflows/internal/workflows"
)

// Writes is what the functions that change a workflow need besides the
// table: a webhook workflow's signing secret and a notify's secret are
// sealed by Sealer (nil where nothing is sealed: the delete), and a
// schedule workflow's schedule is kept by Scheduler (nil: schedule
// workflows are stored without one, logged).
type Writes struct {
	Sealer    secrets.Sealer
	Scheduler schedules.Scheduler
}

func reads(env *lambdaenv.Env) *workflows.Handlers {
	return workflows.NewHandlers(workflows.NewService(workflowsdb.New(env.DB, env.TableName), nil, nil, nil))
}

// Service is the workflow service of the functions that change a
// workflow: its secrets and its schedule follow it. wire/writes adds the
// definition's rules.
func Service(env *lambdaenv.Env, w Writes) *workflows.Service {
	service := workflows.NewService(workflowsdb.New(env.DB, env.TableName), connectionsdb.New(env.DB, env.TableName),
		webhookswire.WebhookSecrets(env, w.Sealer), nil).WithNotifySecrets(webhookswire.NotifySecrets(env, w.Sealer))
	if w.Scheduler != nil {
		service.WithSchedules(Schedules(env, w.Scheduler))
	}
	return service
}

// Schedules is the service that keeps scheduler in step with the schedule
// workflows stored.
func Schedules(env *lambdaenv.Env, scheduler schedules.Scheduler) *schedules.Service {
	return schedules.NewService(scheduler, schedulesdb.New(env.DB, env.TableName), nil)
}

// ListWorkflows is the handler of routes.ListWorkflows.
func ListWorkflows(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(reads(env).List) }

// GetWorkflow is the handler of routes.GetWorkflow.
func GetWorkflow(env *lambdaenv.Env) http.Handler { return http.HandlerFunc(reads(env).Get) }

// DeleteWorkflow is the handler of routes.DeleteWorkflow. Deleting a secret
// seals nothing, so its main passes no sealer: the function has no KMS grant
// (routes.keyActions).
func DeleteWorkflow(env *lambdaenv.Env, w Writes) http.Handler {
	return http.HandlerFunc(workflows.NewHandlers(Service(env, w)).Delete)
}
