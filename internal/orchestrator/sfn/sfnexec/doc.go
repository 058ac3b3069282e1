// Package sfnexec executes the run state machine for real: its tests (build
// tag samlocal, run by scripts/test-state-machine.sh) create the Standard
// state machine of sfn.Definition in moto's Step Functions interpreter,
// whose Task invokes the real runner binary in Lambda's container under
// `sam local start-lambda`, and take one run of each kind through it to its
// end: straight through, a delay, a retry's back-offs, a step failure, a
// cancel and a runner that times out. Each run is compared with the same
// run under the local driver (internal/orchestrator/local), and the ASL
// states each execution passed through (GetExecutionHistory) are asserted.
//
// The package has no code of its own outside its tests.
package sfnexec
