package stack

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// DefaultStage is the stage `make synth` and a bare `cdk deploy` build.
const DefaultStage = "dev"

// stageNamePattern keeps a stage usable in every name derived from it: API
// Gateway stage names, Lambda function names and CloudWatch dimensions.
var stageNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// stageSettings is everything that differs between a developer's throwaway
// stage and one that holds data somebody cares about.
type stageSettings struct {
	name string
	// protectData turns on the table's deletion protection and keeps the
	// table, the two KMS keys and the logs when the stack is deleted.
	protectData  bool
	logRetention awslogs.RetentionDays
}

// settingsFor returns the settings of a stage. "dev" and "dev-<anything>"
// are throwaway stages; every other stage is treated as holding real data,
// so that forgetting to mark a stage errs on the side of keeping it.
func settingsFor(stage string) (stageSettings, error) {
	if !stageNamePattern.MatchString(stage) {
		return stageSettings{}, fmt.Errorf("stack: stage %q must match %s", stage, stageNamePattern)
	}
	if stage == DefaultStage || strings.HasPrefix(stage, DefaultStage+"-") {
		return stageSettings{name: stage, protectData: false, logRetention: awslogs.RetentionDays_ONE_WEEK}, nil
	}
	return stageSettings{name: stage, protectData: true, logRetention: awslogs.RetentionDays_THREE_MONTHS}, nil
}

// removalPolicy is what happens to stateful resources (the table, the KMS
// key its secrets are sealed under, log groups) when the stack is deleted.
func (s stageSettings) removalPolicy() awscdk.RemovalPolicy {
	if s.protectData {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// The names of the stack's resources, from one place. Physical names are
// given only where a person looks for them (functions, the API); the table
// and log groups keep generated names so that a retained one never blocks a
// redeploy of the same stage.
func (s stageSettings) apiName() string { return "workflows-" + s.name }

// secretsKeyAlias names the KMS key of the secrets (secrets.go), so that a
// person finds it in the console and in CloudTrail by stage. The alias goes
// with the stack even where the key is kept, so a stage deployed again
// takes the name for its new key.
func (s stageSettings) secretsKeyAlias() string { return "alias/workflows-" + s.name + "-secrets" }

// signalKeyAlias names the signal tokens' HMAC key (secrets.go) beside the
// secrets' one, for the same reasons.
func (s stageSettings) signalKeyAlias() string { return "alias/workflows-" + s.name + "-signals" }

func (s stageSettings) functionName(function string) string {
	return "workflows-" + s.name + "-" + function
}

// stateMachineName names the run state machine, so that executions (named
// after run ids) are found in the console by stage, and the grants on its
// executions name it without a wildcard but the execution's.
func (s stageSettings) stateMachineName() string { return "workflows-" + s.name + "-runs" }

// expressStateMachineName names the Express run state machine, beside the
// Standard one, for the runs that never wait on an event.
func (s stageSettings) expressStateMachineName() string { return s.stateMachineName() + "-express" }

// scheduleGroupName names the EventBridge Scheduler group of the stage's
// schedules (one per schedule workflow); the grants on its schedules name it.
func (s stageSettings) scheduleGroupName() string { return "workflows-" + s.name }
