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

	aliases := tpl.resourcesOfType("AWS::KMS::Alias")
	if len(aliases) != 1 {
		t.Fatalf("%d aliases, want 1", len(aliases))
	}
	alias := aliases[onlyKey(aliases)]
	if got := alias.Properties["AliasName"]; got != "alias/workflows-"+devStage+"-secrets" {
		t.Errorf("alias %v, want alias/workflows-%s-secrets", got, devStage)
	}
	if target := getAttOf(alias.Properties["TargetKeyId"], "Arn"); target != id {
		t.Errorf("the alias names %v, want the key %s", alias.Properties["TargetKeyId"], id)
	}

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

// No policy of the stack other than those functions' grants any KMS action,
// on this key or any other.
func TestNoOtherPolicyMayUseKMS(t *testing.T) {
	tpl := MustSynthesize(t, devStage)
	mayUse := map[string]bool{}
	for id, name := range tpl.functionNames(t, devStage) {
		if len(keyActionsOf(t, name)) > 0 {
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
