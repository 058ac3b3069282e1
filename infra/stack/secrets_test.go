package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/workflowsapi/workflows/internal/routes"
)

// The secrets' key is a customer managed symmetric key that rotates, named
// by an alias, whose own policy only delegates to IAM: who may use it is
// then exactly what the functions' policies say
// (TestEachFunctionMayCallExactlyItsActionsOnTheTableAndTheKey).
func TestTheSecretsKeyRotatesAndIsNamed(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	id := tpl.secretsKey(t)
	p := tpl.Resources[id].Properties
	if p["EnableKeyRotation"] != true {
		t.Errorf("EnableKeyRotation is %v, want true", p["EnableKeyRotation"])
	}
	if p["Enabled"] == false {
		t.Error("the key is disabled")
	}
	for key, want := range map[string]any{"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"} {
		// CloudFormation's default is the one wanted, so unset passes too.
		if got, set := p[key]; set && got != want {
			t.Errorf("%s is %v, want %v: GenerateDataKey and Decrypt need a symmetric encryption key", key, got, want)
		}
	}
	if p["MultiRegion"] == true {
		t.Error("the key is multi-Region; the stack is in one Region")
	}

	assertAlias(t, tpl, id, "alias/workflows-"+devStage+"-secrets")
	assertPolicyDelegatesToIAM(t, p)
}

// The signal tokens' key is a customer managed HMAC_256 key for
// GenerateMac, which KMS cannot rotate (so rotation is not asked for),
// named by an alias beside the secrets' one, whose own policy only
// delegates to IAM: who may use it is then exactly the functions'
// SignalKeyActions (TestEachFunctionMayCallExactlyItsActionsOnTheTableTheKeyAndTheRunEngine).
func TestTheSignalKeyIsAnHMACKeyAndIsNamed(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	id := tpl.signalKey(t)
	p := tpl.Resources[id].Properties
	for key, want := range map[string]any{"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"} {
		if got := p[key]; got != want {
			t.Errorf("%s is %v, want %v: GenerateMac with HMAC_SHA_256 needs an HMAC_256 key", key, got, want)
		}
	}
	if rotation, set := p["EnableKeyRotation"]; set && rotation != false {
		t.Errorf("EnableKeyRotation is %v; KMS refuses automatic rotation of an HMAC key", rotation)
	}
	if p["Enabled"] == false {
		t.Error("the key is disabled")
	}
	if p["MultiRegion"] == true {
		t.Error("the key is multi-Region; the stack is in one Region")
	}
	if id == tpl.secretsKey(t) {
		t.Error("the signal key is the secrets' key")
	}
	assertAlias(t, tpl, id, "alias/workflows-"+devStage+"-signals")
	assertPolicyDelegatesToIAM(t, p)

	if aliases := tpl.resourcesOfType("AWS::KMS::Alias"); len(aliases) != 2 {
		t.Errorf("%d aliases, want 2: one per key", len(aliases))
	}
}

// assertAlias checks that exactly one alias names key, and that it is name.
func assertAlias(t *testing.T, tpl *cfnTemplate, key, name string) {
	t.Helper()
	var names []any
	for _, alias := range tpl.resourcesOfType("AWS::KMS::Alias") {
		if getAttOf(alias.Properties["TargetKeyId"], "Arn") == key {
			names = append(names, alias.Properties["AliasName"])
		}
	}
	if len(names) != 1 || names[0] != name {
		t.Errorf("the aliases of key %s are %v, want just %s", key, names, name)
	}
}

// assertPolicyDelegatesToIAM checks that a key's policy names only the
// account, which delegates the key's use to IAM.
func assertPolicyDelegatesToIAM(t *testing.T, p map[string]any) {
	t.Helper()
	policy, _ := p["KeyPolicy"].(map[string]any)
	statements, _ := policy["Statement"].([]any)
	if len(statements) == 0 {
		t.Fatal("the key has no key policy")
	}
	for _, s := range statements {
		statement := s.(map[string]any)
		principal := mustJSON(t, statement["Principal"])
		if statement["Effect"] != "Allow" || !strings.Contains(principal, ":root") {
			t.Errorf("key policy statement %s: want only the account (root), which delegates the key's use to IAM", mustJSON(t, statement))
		}
		if strings.Contains(principal, "Role") {
			t.Errorf("key policy statement %s names a role; the functions' grants belong in their own policies", mustJSON(t, statement))
		}
	}
}

// KMS_KEY_ID, the key internal/secrets seals under, is given to exactly the
// functions that call the key, as its ARN; the others cannot name it.
func TestOnlyTheFunctionsThatCallTheKeyKnowIt(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	key := tpl.secretsKey(t)
	var told []string
	for id, name := range tpl.functionNames(t, devStage) {
		env := tpl.Resources[id].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		value, set := env["KMS_KEY_ID"]
		if set {
			told = append(told, name)
			if getAttOf(value, "Arn") != key {
				t.Errorf("%s: KMS_KEY_ID is %s, want the key's ARN", name, mustJSON(t, value))
			}
		}
		if _, set := env["KMS_ENDPOINT"]; set {
			t.Errorf("%s: KMS_ENDPOINT is set; in AWS the SDK finds KMS itself", name)
		}
	}
	slices.Sort(told)
	if want := functionsWithKeyActions(); !slices.Equal(told, want) {
		t.Errorf("KMS_KEY_ID is given to %v, want exactly the functions with KeyActions: %v", told, want)
	}
	if len(functionsWithKeyActions()) == 0 {
		t.Error("no function calls the key; then the stack needs no key")
	}
}

// SIGNAL_KEY_ID, the key internal/signaltoken makes tokens under, is given
// to exactly the functions that call that key, as its ARN: kmsmac.FromEnv
// in any other function fails at start (it has no local key directory).
func TestOnlyTheFunctionsThatMakeTokensKnowTheSignalKey(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	key := tpl.signalKey(t)
	var told []string
	for id, name := range tpl.functionNames(t, devStage) {
		env := tpl.Resources[id].Properties["Environment"].(map[string]any)["Variables"].(map[string]any)
		if value, set := env["SIGNAL_KEY_ID"]; set {
			told = append(told, name)
			if getAttOf(value, "Arn") != key {
				t.Errorf("%s: SIGNAL_KEY_ID is %s, want the signal key's ARN", name, mustJSON(t, value))
			}
		}
	}
	slices.Sort(told)
	var want []string
	for _, fn := range routes.Functions() {
		if len(fn.SignalKeyActions) > 0 {
			want = append(want, fn.Name)
		}
	}
	slices.Sort(want)
	if !slices.Equal(told, want) {
		t.Errorf("SIGNAL_KEY_ID is given to %v, want exactly the functions with SignalKeyActions: %v", told, want)
	}
	// The runner stores a token's hash, and the two read routes show it.
	if wantNamed := []string{routes.GetRun.Function, routes.GetRunStep.Function, routes.RunnerFunction}; !slices.Equal(want, wantNamed) {
		t.Errorf("the functions with SignalKeyActions are %v, want %v", want, wantNamed)
	}
}

// No policy of the stack other than those functions' grants any KMS action,
// on either key or any other.
func TestNoOtherPolicyMayUseKMS(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	mayUse := map[string]bool{}
	for id, name := range tpl.functionNames(t, devStage) {
		if len(keyActionsOf(t, name)) > 0 || len(signalKeyActionsOf(t, name)) > 0 {
			mayUse[getAttOf(tpl.Resources[id].Properties["Role"], "Arn")] = true
		}
	}
	for id, p := range tpl.resourcesOfType("AWS::IAM::Policy") {
		for _, s := range p.Properties["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			for _, action := range sortedStrings(s.(map[string]any)["Action"]) {
				if !strings.HasPrefix(action, "kms:") {
					continue
				}
				for _, role := range p.Properties["Roles"].([]any) {
					if !mayUse[refTo(role)] {
						t.Errorf("policy %s gives %s to %v, which calls no key", id, action, role)
					}
				}
			}
		}
	}
	for id, r := range tpl.resourcesOfType("AWS::IAM::Role") {
		if strings.Contains(mustJSON(t, r.Properties["Policies"]), "kms:") {
			t.Errorf("role %s has an inline KMS grant", id)
		}
	}
}

// functionsWithKeyActions names, sorted, the functions of routes.Functions()
// that call the KMS key.
func functionsWithKeyActions() []string {
	var out []string
	for _, fn := range routes.Functions() {
		if len(fn.KeyActions) > 0 {
			out = append(out, fn.Name)
		}
	}
	slices.Sort(out)
	return out
}
