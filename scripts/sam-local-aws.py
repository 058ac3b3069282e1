"""Makes what the functions expect in moto's server for `make sam-local`:
the two KMS keys (the secrets' symmetric key and the signal tokens' HMAC
key), the runs' state machine and the schedule group, and prints the
environment the functions get for them, one NAME=VALUE a line. SAM sets
each variable only in the functions that declare it (template.yaml), so
SIGNAL_KEY_ID reaches exactly the functions granted kms:GenerateMac.

Usage: sam-local-aws.py MOTO_ENDPOINT FUNCTIONS_MOTO_ENDPOINT [DEFINITION_FILE]

MOTO_ENDPOINT is where this script reaches moto (loopback);
FUNCTIONS_MOTO_ENDPOINT is where the functions' containers do
(host.docker.internal). DEFINITION_FILE is the state machine's definition,
the synthesized one where the caller has it; without it a one-state
definition stands in, as moto does not run states unless asked to
(docs/infrastructure.md, "Running with sam local").
"""
import json
import sys

import boto3

endpoint, functions_endpoint = sys.argv[1], sys.argv[2]
definition = (
    open(sys.argv[3]).read()
    if len(sys.argv) > 3
    else json.dumps({"StartAt": "Queued", "States": {"Queued": {"Type": "Pass", "End": True}}})
)
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
    "SFN_ENDPOINT": functions_endpoint,
    "SCHEDULE_GROUP_NAME": group,
    "SCHEDULER_ENDPOINT": functions_endpoint,
    "SCHEDULER_ROLE_ARN": f"arn:aws:iam::{account}:role/workflows-local-scheduler",
    "SCHEDULED_RUN_FUNCTION_ARN": f"arn:aws:lambda:us-east-1:{account}:function:ScheduledRunFunction",
    "SCHEDULE_DLQ_ARN": f"arn:aws:sqs:us-east-1:{account}:workflows-local-schedules-dlq",
}.items():
    print(f"{name}={value}")
