package blueprint

// The deployment's settings with their defaults and bounds. The CDK stack
// takes them as context values (`cdk deploy -c throttleRateLimit=...`, so
// that each stage's settings are in the command that deploys it);
// template.yaml, which is not deployed, takes them as parameters with the
// same defaults and bounds.
const (
	// DefaultAuthorizerCacheSeconds is the authorizer's result cache: none,
	// so a revoked key is refused on its next request.
	DefaultAuthorizerCacheSeconds = 0
	// MaxAuthorizerCacheSeconds is API Gateway's ceiling for the cache.
	MaxAuthorizerCacheSeconds = 3600

	// DefaultThrottleRateLimit is the stage's steady rate in requests per
	// second, every route and caller together. Three times the largest
	// rate one caller may use under the contract (webhooks: 10000 a
	// minute per source IP, 167 a second), so that one caller at its limit
	// leaves room for the others; a twentieth of the account's default
	// regional limit (10000 a second), which every API of the account
	// shares.
	DefaultThrottleRateLimit = 500
	// DefaultThrottleBurstLimit is the stage's bucket: how many requests
	// may arrive at once above the steady rate.
	DefaultThrottleBurstLimit = 1000
	// DefaultWAFRateLimit is the firewall's limit per source IP per minute,
	// every route together: the contract's largest per-IP limit (webhooks,
	// 10000 a minute) and a fifth more, as WAF counts approximately.
	DefaultWAFRateLimit = 12000

	// The bounds API Gateway and WAF accept (and a floor that keeps a typo
	// from shutting the API). API Gateway's account limits cap the stage's
	// settings in effect in any case.
	MinThrottleRateLimit  = 1
	MaxThrottleRateLimit  = 10000
	MinThrottleBurstLimit = 1
	MaxThrottleBurstLimit = 5000
	MinWAFRateLimit       = 100
	MaxWAFRateLimit       = 2000000000
)

// The firewall's names.
const (
	FirewallRateRuleName     = "PerSourceIPRateLimit"
	FirewallRateLimitedBody  = "rate-limited"
	FirewallManagedRuleGroup = "AWSManagedRulesCommonRuleSet"
)

// FirewallCountedRules are the rules of the AWS managed common rule set that
// count instead of block. This API's bodies are data, not markup: webhook
// payloads become run input as they are, and workflow definitions carry
// URLs (an IP address is a legitimate host), jq programs and templates;
// the functions hold every body to the contract. The contract takes bodies
// up to 256 KiB, where SizeRestrictions_BODY blocks anything over 8 KB, and
// does not ask callers for a User-Agent.
var FirewallCountedRules = []string{
	"SizeRestrictions_BODY",
	"CrossSiteScripting_BODY",
	"GenericRFI_BODY",
	"GenericLFI_BODY",
	"EC2MetaDataSSRF_BODY",
	"NoUserAgent_HEADER",
}

// The run engine's settings.
const (
	// FailureQueueRetentionDays is how long the two queues of lost firings
	// keep a message: SQS's most, so a firing lost on a Friday evening is
	// still there to read and replay after the weekend (the alarms fire at
	// once).
	FailureQueueRetentionDays = 14

	// ScheduledRunAsyncRetries is how often Lambda retries a scheduled-run
	// invocation whose function failed (Lambda's own default, said out
	// loud): a firing is idempotent (its run id comes from the workflow and
	// the scheduled time), and after the retries it goes to the failure
	// queue.
	ScheduledRunAsyncRetries = 2

	// StartCheckEveryMinutes is how often the start check runs: how long,
	// at worst, a run whose start was lost stays queued, and a run whose
	// execution ended without the runner (stopped in the console, timed
	// out) stays shown as unfinished. A failed check is not retried: the
	// next one does the same work.
	StartCheckEveryMinutes = 5
)

// SecretsKeyDescription is the description of the secrets' KMS key of the
// deployment named name.
func SecretsKeyDescription(name string) string {
	return "Workflows API (" + name + "): wraps the data keys of connection credentials and webhook signing secrets"
}

// SignalKeyDescription is the description of the signal tokens' KMS key of
// the deployment named name.
func SignalKeyDescription(name string) string {
	return "Workflows API (" + name + "): makes the tokens of wait_for_signal steps' signalUrls (HMAC-SHA256; only their hashes are stored)"
}
