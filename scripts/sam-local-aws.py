"""Makes what the functions expect in moto's server for `make sam-local`:
the two KMS keys (the secrets' symmetric key and the signal tokens' HMAC
key), the runs' two state machines (the Standard one and the Express one
for the runs that never wait) and the schedule group, and prints the
environment the functions get for them, one NAME=VALUE a line. SAM sets
each variable only in the functions that declare it (template.yaml), so
SIGNAL_KEY_ID reaches exactly the functions granted kms:GenerateMac.

Usage: sam-local-aws.py MOTO_ENDPOINT FUNCTIONS_MOTO_ENDPOINT [DEFINITION_FILE [EXPRESS_DEFINITION_FILE]]

MOTO_ENDPOINT is where this script reaches moto (loopback);
FUNCTIONS_MOTO_ENDPOINT is where the functions' containers do
(host.docker.internal). DEFINITION_FILE is the Standard state machine's
definition, the synthesized one where the caller has it, and
EXPRESS_DEFINITION_FILE the Express one's; without them a one-state
definition stands in, as moto does not run states unless asked to
(docs/infrastructure.md, "Running with sam local").
"""
import json
import sys

import boto3

endpoint, functions_endpoint = sys.argv[1], sys.argv[2]
stand_in = json.dumps({"StartAt": "Queued", "States": {"Queued": {"Type": "Pass", "End": True}}})
definition = open(sys.argv[3]).read() if len(sys.argv) > 3 else stand_in
express_definition = open(sys.argv[4]).read() if len(sys.argv) > 4 else stand_in
session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
account = "123456789012"  # moto's default account

kms = session.client("kms", endpoint_url=endpoint)
key = kms.create_key(Description="workflows-local connection secrets")["KeyMetadata"]["Arn"]
# The HMAC key wait_for_signal tokens are made under (internal/signaltoken),
# as the stack's: kms:GenerateMac with HMAC_SHA_256 needs HMAC_256.
signal_key = kms.create_key(
    Description="workflows-local signal tokens", KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC"
)["KeyMetadata"]["Arn"]

sfn = session.client("stepfunctions", endpoint_url=endpoint)
role = f"arn:aws:iam::{account}:role/workflows-local-state-machine"
machine = sfn.create_state_machine(name="workflows-local-runs", definition=definition, roleArn=role, type="STANDARD")[
    "stateMachineArn"
]
# The functions that start runs have EXPRESS_STATE_MACHINE_ARN too
# (template.yaml declares it on them only), as the stack's
# workflows-<stage>-runs-express.
express = sfn.create_state_machine(
    name="workflows-local-runs-express", definition=express_definition, roleArn=role, type="EXPRESS"
)["stateMachineArn"]

scheduler = session.client("scheduler", endpoint_url=endpoint)
group = "workflows-local"
try:
    scheduler.create_schedule_group(Name=group)
except scheduler.exceptions.ConflictException:
    pass

for name, value in {
    "KMS_KEY_ID": key,
    "KMS_ENDPOINT": functions_endpoint,
    "SIGNAL_KEY_ID": signal_key,
    "STATE_MACHINE_ARN": machine,
    "EXPRESS_STATE_MACHINE_ARN": express,
    "SFN_ENDPOINT": functions_endpoint,
    "SCHEDULE_GROUP_NAME": group,
    "SCHEDULER_ENDPOINT": functions_endpoint,
    "SCHEDULER_ROLE_ARN": f"arn:aws:iam::{account}:role/workflows-local-scheduler",
    "SCHEDULED_RUN_FUNCTION_ARN": f"arn:aws:lambda:us-east-1:{account}:function:ScheduledRunFunction",
    "SCHEDULE_DLQ_ARN": f"arn:aws:sqs:us-east-1:{account}:workflows-local-schedules-dlq",
}.items():
    print(f"{name}={value}")
