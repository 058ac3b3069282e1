// Command infra is the CDK app of the Workflows API: `cdk synth` and
// `cdk deploy` run it (see cdk.json and docs/infrastructure.md).
package main

import (
	"fmt"
	"os"
	"strconv"

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
	stage := stack.DefaultStage
	if s, ok := app.Node().TryGetContext(jsii.String("stage")).(string); ok && s != "" {
		stage = s
	}
	cacheSeconds := 0
	if v := app.Node().TryGetContext(jsii.String(stack.AuthorizerCacheContext)); v != nil {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			fmt.Fprintf(os.Stderr, "-c %s=%v: a whole number of seconds is needed\n", stack.AuthorizerCacheContext, v)
			os.Exit(1)
		}
		cacheSeconds = n
	}
	// No account or region here: the stack is environment-agnostic, so
	// `cdk synth` needs no credentials, and `cdk deploy` takes both from
	// the caller's AWS profile.
	_, err := stack.NewWorkflowsStack(app, "Workflows-"+stage, &stack.Props{
		Stage:                  stage,
		LambdaAssetDir:         lambdaAssetDir,
		AuthorizerCacheSeconds: cacheSeconds,
		StackProps: awscdk.StackProps{
			Description: jsii.String("Workflows API (" + stage + ")"),
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	app.Synth(nil)
}
