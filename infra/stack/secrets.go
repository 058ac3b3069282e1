package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/infra/blueprint"
)

// secretsKeyPendingDays is how long a throwaway stage's key waits, disabled,
// before KMS deletes it once its stack is gone: KMS's shortest window, long
// enough to cancel a mistaken `cdk destroy` (the table is gone then anyway).
const secretsKeyPendingDays = 7

// newSecretsKey builds the API's one KMS key: the key-encryption key of
// internal/secrets, under which every connection's credentials and every
// webhook signing or notification secret gets its own data key
// (GenerateDataKey, with the account and the connection or workflow as
// encryption context). Only the
// wrapped data keys are stored, so a copy of the table alone reveals nothing.
//
// A customer managed key, so that its key policy, rotation and deletion are
// this stack's, and its use shows in CloudTrail under the functions' roles.
// The key policy is CDK's default: the account may delegate use to IAM. Who
// may use it is then exactly the statements permissions.go writes from each
// function's KeyActions. Automatic rotation makes new key material every
// year; KMS keeps the old, so secrets sealed before still open.
//
// It is kept or deleted with the table: a stage that keeps its table keeps
// the key that its secrets need, and a throwaway stage schedules the key's
// deletion when its table goes.
func newSecretsKey(scope constructs.Construct, settings stageSettings) awskms.Key {
	props := &awskms.KeyProps{
		Description: jsii.String(blueprint.SecretsKeyDescription(settings.name)),
		// A symmetric encryption key: what GenerateDataKey and Decrypt need.
		KeySpec:           awskms.KeySpec_SYMMETRIC_DEFAULT,
		KeyUsage:          awskms.KeyUsage_ENCRYPT_DECRYPT,
		EnableKeyRotation: jsii.Bool(true),
		Alias:             jsii.String(settings.secretsKeyAlias()),
		RemovalPolicy:     settings.removalPolicy(),
	}
	if !settings.protectData {
		props.PendingWindow = awscdk.Duration_Days(jsii.Number(secretsKeyPendingDays))
	}
	return awskms.NewKey(scope, jsii.String("SecretsKey"), props)
}

// newSignalKey builds the API's second KMS key: the HMAC key
// (internal/signaltoken) every wait_for_signal step's token is made under,
// kms:GenerateMac of the account, run and step ids and a random nonce kept
// on the step. Only the token's hash is stored, and the runner and the read
// routes make the token again when they need it, so the key never leaves
// KMS and a copy of the table alone yields no signalUrl.
//
// A key of its own, not the secrets' key: an HMAC key is the only kind
// GenerateMac takes, and a separate key keeps each grant to the one use
// (the secrets' functions cannot make tokens, the token makers cannot
// open secrets). No automatic rotation: KMS rotates only symmetric
// encryption keys, and rotating this one would change every outstanding
// token anyway. Its policy is CDK's default, as the secrets' key's: who may
// use it is exactly the statements permissions.go writes from each
// function's SignalKeyActions.
//
// It is kept or deleted with the table, as the secrets' key is: the waiting
// steps the table holds need it to be signalled by their URL.
func newSignalKey(scope constructs.Construct, settings stageSettings) awskms.Key {
	props := &awskms.KeyProps{
		Description:       jsii.String(blueprint.SignalKeyDescription(settings.name)),
		KeySpec:           awskms.KeySpec_HMAC_256,
		KeyUsage:          awskms.KeyUsage_GENERATE_VERIFY_MAC,
		EnableKeyRotation: jsii.Bool(false),
		Alias:             jsii.String(settings.signalKeyAlias()),
		RemovalPolicy:     settings.removalPolicy(),
	}
	if !settings.protectData {
		props.PendingWindow = awscdk.Duration_Days(jsii.Number(secretsKeyPendingDays))
	}
	return awskms.NewKey(scope, jsii.String("SignalKey"), props)
}
