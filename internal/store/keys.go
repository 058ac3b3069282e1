package store

import (
	"fmt"
	"hash/fnv"
	"strconv"
)

// Key builders: every PK/SK the API writes is made here, next to the access
// pattern that reads it. The table has two global secondary indexes with
// generic keys (GSI1PK/GSI1SK, GSI2PK/GSI2SK), planned now for this release and
// the next (runs) together: a deployed table gains at most one GSI per
// CloudFormation update, so the runs release must add none.
//
//	item               PK                        SK                  access patterns
//	API key (auth)     APIKEYHASH#<sha256 hex>   APIKEYHASH          authorizer: one strongly consistent GetItem by the
//	                                                                 hash of the presented key; revocation, expiry and
//	                                                                 lastUsedAt are written here, so the authorizer sees
//	                                                                 them on the very next request
//	API key (index)    ACCOUNT#<account>         APIKEY#<key id>     list an account's keys, newest first (Query, then
//	                                                                 BatchGetItem of their auth items); find a key by id
//	                                                                 within its account (GetItem), which is what makes
//	                                                                 another account's key id a 404
//	rate counter       RATE#<subject>#<category> RATE                one UpdateItem per request: ADD 1 to the attribute of
//	                                                                 the request's second (s<Unix second in base 36>),
//	                                                                 REMOVE the 60 seconds before the window, return the
//	                                                                 whole item (ALL_NEW) for the limiter to sum; a refused
//	                                                                 request takes its 1 back with a second UpdateItem;
//	                                                                 TTL two minutes after the last request
//	workflow (head)    ACCOUNT#<account>         WORKFLOW#<wf id>    the current version's summary (name, version, enabled,
//	                                                                 trigger, hasNotify, times): list an account's
//	                                                                 workflows newest first (Query, begins_with,
//	                                                                 descending: ids sort by creation time); get one within
//	                                                                 its account (GetItem, so another account's id is
//	                                                                 simply absent); the version check of PUT is a
//	                                                                 condition on it; DELETE deletes it, so the workflow is
//	                                                                 404 everywhere
//	workflow version   ACCOUNT#<account>         WORKFLOWVERSION#    one immutable item per version, the whole definition:
//	                                             <wf id>#<version,   GET ?version=N and the current definition (GetItem);
//	                                             8 digits>           a run reads the version it pinned; written before the
//	                                                                 head points at it, kept after a DELETE
//	connection         ACCOUNT#<account>         CONNECTION#<id>     list newest first (Query), get, replace, delete within
//	                                                                 the account; holds the sealed credentials (wrapped data
//	                                                                 key, nonce, ciphertext), never the plaintext
//	webhook secret     WEBHOOK#<wf id>           WEBHOOK             the signing secret of a webhook workflow, sealed, with
//	                                                                 the previous one and when it stops being valid after a
//	                                                                 roll, and the owning account: the receiving route has
//	                                                                 only the workflow id, so one GetItem by it
//	notification       NOTIFY#<wf id>            NOTIFY              the notification secret of a workflow with notify, the
//	secret                                                           same item as the webhook secret's (sealed current and
//	                                                                 previous, the account): made by the create or PUT that
//	                                                                 gives a workflow notify, dropped by the PUT that takes
//	                                                                 it away and by DELETE, rolled by POST /workflows/{id}/
//	                                                                 notify/roll (after a GetItem of the head's hasNotify);
//	                                                                 the runner GetItems it to sign each event, and checks
//	                                                                 the account it holds against the run's. Its own item,
//	                                                                 not a member of the webhook one: a workflow may have
//	                                                                 both, and each is made, rolled and dropped alone
//
// Planned for runs (the next release; the keys are fixed here so the indexes
// above are the last the table needs):
//
//	run                ACCOUNT#<account>         RUN#<run id>        get a run within its account (GetItem); list an
//	                                                                 account's runs newest first (Query, descending)
//	                     GSI1PK WORKFLOWRUNS#<account>#<wf id>, GSI1SK <run id>: runs of one workflow, newest first
//	                       (with ?status= as well: the same Query with a filter on status)
//	                     GSI2PK RUNSTATUS#<account>#<status>, GSI2SK <run id>: runs in one status, newest first;
//	                       a status change rewrites GSI2PK in the same UpdateItem
//	run step           RUN#<run id>              STEP#<step id>      one item per step (output stored whole, up to 256 KiB):
//	                                                                 all of a run's steps in one Query; each attempt is a
//	                                                                 conditional write on it
//	fan-out item       RUN#<run id>              ITEM#<step id>#     one item per foreach item or parallel inner step (status,
//	                                             <index, 4 digits>   attempts, output, error): a step's items in one Query
//	                                                                 (begins_with ITEM#<step id>#, paged: a 1000-item
//	                                                                 foreach's whole output is held to 256 KiB, so its
//	                                                                 items fit in a page or two); each attempt is a
//	                                                                 conditional write on it. Outside STEP#, so reading a
//	                                                                 run's steps reads no items
//	child run          RUN#<parent run id>       CHILD#<child run id> a workflow step's child (accountId, stepId), written before
//	                                                                 the child: GET /runs?parentRunId= Queries these (after a
//	                                                                 GetItem of the parent in the caller's account) and
//	                                                                 BatchGetItems the children; cancelling a parent cancels
//	                                                                 the children they name. No index: a run has at most one
//	                                                                 child per step
//	run output         RUN#<run id>              OUTPUT              a run's output over 64 KiB, kept out of the run item
//	                                                                 (which holds an input of up to 256 KiB); the run item
//	                                                                 says it is there (outputRef), GetItem reads it
//	unfinished run     UNFINISHED#<shard 0-15>   <run id>            written before the run, deleted after it ends: the
//	                                                                 periodic check and the local driver's resume Query
//	                                                                 the 16 shards, so no index and no Scan is needed
//	                                                                 for runs of every account, and no shard is hot
//	idempotency record IDEMPOTENCY#<account>#    IDEMPOTENCY         the first response to an Idempotency-Key; TTL 24 h
//	                   <sha256 of the key>
//	webhook delivery   WEBHOOKDELIVERY#<wf id>#  DELIVERY            planned, and not needed: the receiving route derives
//	                   <sha256 of signature>                         the run id from the workflow and the signature
//	                                                                 (receive.DeliveryRunID), so a replay within the
//	                                                                 tolerance asks for a run id already taken and the run
//	                                                                 item itself answers it; no item is written
//	signal token       SIGNAL#<sha256 of token>  SIGNAL              a waiting wait_for_signal step's token, by its hash only
//	                                                                 (accountId, runId, stepId, expiresAt): POST
//	                                                                 /signals/{token} GetItems it, then signals the step;
//	                                                                 deleted once used, TTL at the step's expiry. Written
//	                                                                 by the runner before the step record that holds the
//	                                                                 token's nonce and hash
//	concurrency slot   CONCURRENCY#<group>       SLOT#<index, 4     a slot of a workflow's concurrency limit, taken by one
//	                                             digits>             run (runId, accountId, leaseUntil): a conditional PutItem
//	                                                                 takes it (absent, lease over, or already the run's), a
//	                                                                 conditional DeleteItem frees it; <group> is the
//	                                                                 account, the workflow and a hash of the key's value
//	queued run         CONCURRENCY#<group>       QUEUE#<run id>      a run waiting for a slot (accountId, the task token its
//	                                                                 execution waits on): run ids sort by start, so one
//	                                                                 Query of the group reads its slots and its queue in
//	                                                                 order; deleted when the run takes a slot or ends, TTL
//	                                                                 past its deadline
//	schedule marker    SCHEDULE#<shard 0-15>     <wf id>             one per workflow that is or was on a schedule trigger
//	                                                                 (accountId, markedAt): written before the head by the
//	                                                                 workflow routes, deleted after its EventBridge
//	                                                                 schedule; the reconcile (wfctl schedules sync, local
//	                                                                 gateway start) Queries the 16 shards to find every
//	                                                                 schedule workflow of every account without a Scan.
//	                                                                 Workflows stored before markers existed are marked
//	                                                                 once by `wfctl schedules sync --backfill`, the one
//	                                                                 Scan of the table (an operator's, no function's)
//
// The index item of a key holds the key hash so that revoke and roll, which
// are given a key id, can reach the auth item; the hash never leaves the store.

const (
	prefixAccount = "ACCOUNT#"
	prefixKeyHash = "APIKEYHASH#"
	prefixRate    = "RATE#"
	prefixWebhook = "WEBHOOK#"
	prefixNotify  = "NOTIFY#"
	// PrefixKeyIndex begins the SK of every key index item of an account.
	PrefixKeyIndex = "APIKEY#"
	// SortKeyHash is the SK of a key's auth item.
	SortKeyHash = "APIKEYHASH"
	// SortRateCounter is the SK of a rate counter.
	SortRateCounter = "RATE"
	// PrefixWorkflow begins the SK of every workflow head of an account.
	PrefixWorkflow = "WORKFLOW#"
	// PrefixWorkflowVersion begins the SK of every workflow version item.
	PrefixWorkflowVersion = "WORKFLOWVERSION#"
	// PrefixConnection begins the SK of every connection of an account.
	PrefixConnection = "CONNECTION#"
	// SortWebhookSecret is the SK of a workflow's webhook secret item.
	SortWebhookSecret = "WEBHOOK"
	// SortNotifySecret is the SK of a workflow's notification secret item.
	SortNotifySecret = "NOTIFY"
)

// Run items (the plan above; internal/store/runsdb reads and writes them).
const (
	// PrefixRun begins the SK of every run of an account, and the
	// partition of a run's steps.
	PrefixRun = "RUN#"
	// PrefixStep begins the SK of every step item of a run.
	PrefixStep = "STEP#"
	// PrefixItem begins the SK of every fan-out item of a run.
	PrefixItem = "ITEM#"
	// PrefixChild begins the SK of every child record of a run.
	PrefixChild = "CHILD#"
	// SortRunOutput is the SK of a run's output when it is too big to sit
	// in the run item beside an input of up to 256 KiB (DynamoDB items hold
	// 400 KB).
	SortRunOutput = "OUTPUT"
	// UnfinishedShards is how many partitions the unfinished-run markers
	// are spread over.
	UnfinishedShards = 16
	// SortIdempotency is the SK of an idempotency record.
	SortIdempotency = "IDEMPOTENCY"
	// SortSignal is the SK of a signal token's lookup item.
	SortSignal = "SIGNAL"

	prefixWorkflowRuns = "WORKFLOWRUNS#"
	prefixRunStatus    = "RUNSTATUS#"
	prefixUnfinished   = "UNFINISHED#"
	prefixIdempotency  = "IDEMPOTENCY#"
	prefixSignal       = "SIGNAL#"
	prefixConcurrency  = "CONCURRENCY#"
	// PrefixSlot and PrefixQueued begin the SKs of a concurrency group's
	// slots and queued runs.
	PrefixSlot   = "SLOT#"
	PrefixQueued = "QUEUE#"
)

// ConcurrencyPK is the partition of a concurrency group.
func ConcurrencyPK(group string) string { return prefixConcurrency + group }

// SlotSK is the SK of slot index of a concurrency group.
func SlotSK(index int) string { return fmt.Sprintf("%s%04d", PrefixSlot, index) }

// QueuedSK is the SK of a run's queue entry in a concurrency group.
func QueuedSK(runID string) string { return PrefixQueued + runID }

// SignalPK is the partition of a signal token's lookup item: the hex
// sha256 of the token (the token itself is never stored).
func SignalPK(tokenHash string) string { return prefixSignal + tokenHash }

// RunSK is the SK of a run in its account.
func RunSK(runID string) string { return PrefixRun + runID }

// WorkflowRunsPK is GSI1PK of a run: the runs of one workflow.
func WorkflowRunsPK(account, workflowID string) string {
	return prefixWorkflowRuns + account + "#" + workflowID
}

// RunStatusPK is GSI2PK of a run: the runs of an account in one status.
func RunStatusPK(account, status string) string { return prefixRunStatus + account + "#" + status }

// RunStepsPK is the partition of a run's step items (and of its big output).
func RunStepsPK(runID string) string { return PrefixRun + runID }

// StepSK is the SK of one step item of a run.
func StepSK(stepID string) string { return PrefixStep + stepID }

// ChildSK is the SK of a parent's record of one child run.
func ChildSK(childRunID string) string { return PrefixChild + childRunID }

// ItemsPrefix begins the SK of every item of one fan-out step.
func ItemsPrefix(stepID string) string { return PrefixItem + stepID + "#" }

// ItemSK is the SK of one fan-out item: its index in four digits, so the
// items of a step sort in index order (workflows.MaxForeachItems is 1000).
func ItemSK(stepID string, index int) string {
	return fmt.Sprintf("%s%04d", ItemsPrefix(stepID), index)
}

// UnfinishedShard is the marker shard of a run: an FNV-1a hash of its id,
// so that markers of runs started in the same millisecond (ids that share
// their time prefix) still spread over every shard.
func UnfinishedShard(runID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(runID))
	return int(h.Sum32() % UnfinishedShards)
}

// UnfinishedPK is the partition of one shard of unfinished-run markers.
func UnfinishedPK(shard int) string { return prefixUnfinished + strconv.Itoa(shard) }

// IdempotencyPK is the partition of an Idempotency-Key's record; keyHash is
// the hex SHA-256 of the key, so the key itself is never stored.
func IdempotencyPK(account, keyHash string) string {
	return prefixIdempotency + account + "#" + keyHash
}

// ScheduleMarkerShards is how many partitions the schedule markers are
// spread over.
const ScheduleMarkerShards = 16

const prefixScheduleMarker = "SCHEDULE#"

// ScheduleMarkerShardPK is the partition of one shard of schedule markers.
func ScheduleMarkerShardPK(shard int) string { return prefixScheduleMarker + strconv.Itoa(shard) }

// ScheduleMarkerPK is the partition of a workflow's schedule marker: an
// FNV-1a hash of its id picks the shard, as for unfinished runs.
func ScheduleMarkerPK(workflowID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(workflowID))
	return ScheduleMarkerShardPK(int(h.Sum32() % ScheduleMarkerShards))
}

// AccountOfPK reads the account back from an AccountPK; ok is false for
// any other partition key.
func AccountOfPK(pk string) (account string, ok bool) {
	if len(pk) <= len(prefixAccount) || pk[:len(prefixAccount)] != prefixAccount {
		return "", false
	}
	return pk[len(prefixAccount):], true
}

// WorkflowSK is the SK of a workflow's head in its account.
func WorkflowSK(workflowID string) string { return PrefixWorkflow + workflowID }

// WorkflowVersionSK is the SK of one version of a workflow. The version is
// zero-padded to 8 digits so versions sort in number order.
func WorkflowVersionSK(workflowID string, version int) string {
	return fmt.Sprintf("%s%s#%08d", PrefixWorkflowVersion, workflowID, version)
}

// ConnectionSK is the SK of a connection in its account.
func ConnectionSK(connectionID string) string { return PrefixConnection + connectionID }

// WebhookSecretPK is the partition of a workflow's webhook secret item.
func WebhookSecretPK(workflowID string) string { return prefixWebhook + workflowID }

// NotifySecretPK is the partition of a workflow's notification secret item.
func NotifySecretPK(workflowID string) string { return prefixNotify + workflowID }

// AccountPK is the partition of everything an account owns.
func AccountPK(account string) string { return prefixAccount + account }

// KeyHashPK is the partition of a key's auth item.
func KeyHashPK(hash string) string { return prefixKeyHash + hash }

// KeyIndexSK is the SK of a key's index item in its account.
func KeyIndexSK(keyID string) string { return PrefixKeyIndex + keyID }

// RateCounterPK is the partition of one limiter bucket.
func RateCounterPK(bucket string) string { return prefixRate + bucket }

// RateSecondAttr names the attribute counting one second of a bucket: "s" and
// the Unix second in base 36. Base 36 keeps the name at 7 bytes, so a bucket
// busy in every one of its 62 seconds stays well under 1 KB, the size one
// write capacity unit pays for, even with the longest subject (an IPv6
// address) and counts in the thousands.
func RateSecondAttr(second int64) string { return "s" + strconv.FormatInt(second, 36) }

// RateSecondOfAttr reads the second back from a RateSecondAttr; ok is false for
// any other attribute.
func RateSecondOfAttr(name string) (second int64, ok bool) {
	if len(name) < 2 || name[0] != 's' {
		return 0, false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return 0, false
		}
	}
	second, err := strconv.ParseInt(name[1:], 36, 64)
	return second, err == nil
}

// IsLegacyRateWindowAttr reports whether an attribute is a per-minute count
// of the earlier two-window limiter (n<minute number>). A counter item the
// earlier code wrote may still hold one; the limiter removes it.
func IsLegacyRateWindowAttr(name string) bool {
	return len(name) > 1 && name[0] == 'n' && isDigits(name[1:])
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
