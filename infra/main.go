// Command infra is the CDK app of the Workflows API: `cdk synth` and
// `cdk deploy` run it (see cdk.json and docs/infrastructure.md).
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/stack"
)

// lambdaAssetDir is where `make lambdas` writes the bootstrap binaries,
// relative to infra/, where cdk runs this app.
const lambdaAssetDir = "../bin"

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(&awscdk.AppProps{Context: &stack.FeatureFlags})
	props, err := stack.PropsFromContext(func(key string) any {
		return app.Node().TryGetContext(jsii.String(key))
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	props.LambdaAssetDir = lambdaAssetDir
	// No account or region here: the stack is environment-agnostic, so
	// `cdk synth` needs no credentials, and `cdk deploy` takes both from
	// the caller's AWS profile.
	props.StackProps = awscdk.StackProps{
		Description: jsii.String("Workflows API (" + props.Stage + ")"),
	}
	if _, err := stack.NewWorkflowsStack(app, "Workflows-"+props.Stage, &props); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// cdk-nag's AwsSolutions and Serverless packs: an unsuppressed error
	// fails the synth, and so the deploy.
	stack.AddRuleChecks(app)
	app.Synth(nil)
}
