package routes

// The DynamoDB actions the functions call.
const (
	ActionGetItem      = "dynamodb:GetItem"
	ActionPutItem      = "dynamodb:PutItem"
	ActionUpdateItem   = "dynamodb:UpdateItem"
	ActionQuery        = "dynamodb:Query"
	ActionBatchGetItem = "dynamodb:BatchGetItem"
)

// DynamoDBActions is, for every Lambda function, the exact DynamoDB actions
// it calls on the table: the CDK stack and template.yaml grant these and
// nothing more, and TestDynamoDBCallsPerRoute holds them to the calls each
// route really makes. Every route function calls UpdateItem, for the rate
// limiter's counter and the key's lastUsedAt; routes whose feature is not
// built yet need nothing else, and gain actions in the change that brings
// their code.
//
// They cover the table, not its indexes: no function queries GSI1 yet. A
// function that starts to must have the index ARN granted too.
var DynamoDBActions = map[string][]string{
	AuthorizerFunction: {ActionGetItem},

	"list-api-keys":  {ActionUpdateItem, ActionQuery, ActionBatchGetItem},
	"create-api-key": {ActionUpdateItem, ActionPutItem},
	"revoke-api-key": {ActionUpdateItem, ActionGetItem},
	"roll-api-key":   {ActionUpdateItem, ActionGetItem, ActionPutItem},

	"list-workflows":  {ActionUpdateItem},
	"create-workflow": {ActionUpdateItem},
	"get-workflow":    {ActionUpdateItem},
	"update-workflow": {ActionUpdateItem},
	"delete-workflow": {ActionUpdateItem},
	"run-workflow":    {ActionUpdateItem},

	"list-runs":  {ActionUpdateItem},
	"get-run":    {ActionUpdateItem},
	"cancel-run": {ActionUpdateItem},
	"retry-run":  {ActionUpdateItem},

	"list-connections":  {ActionUpdateItem},
	"get-connection":    {ActionUpdateItem},
	"create-connection": {ActionUpdateItem},
	"update-connection": {ActionUpdateItem},
	"delete-connection": {ActionUpdateItem},

	"receive-webhook": {ActionUpdateItem},
}
