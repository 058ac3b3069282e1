package stack

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/workflowsapi/workflows/internal/store"
)

// newTable builds the API's one DynamoDB table from store.TableDefinition,
// the definition the operator tool and the tests create the table from, so
// keys and indexes are written down once.
func newTable(scope constructs.Construct, settings stageSettings) (awsdynamodb.Table, error) {
	def := store.TableDefinition("")
	if def.BillingMode != types.BillingModePayPerRequest {
		return nil, fmt.Errorf("stack: table billing mode %q is not on-demand", def.BillingMode)
	}
	partitionKey, sortKey, err := keySchema(def, def.KeySchema)
	if err != nil {
		return nil, err
	}
	table := awsdynamodb.NewTable(scope, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: partitionKey,
		SortKey:      sortKey,
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		TimeToLiveAttribute: jsii.String(store.AttrTTL),
		DeletionProtection:  jsii.Bool(settings.protectData),
		RemovalPolicy:       settings.removalPolicy(),
	})
	for _, gsi := range def.GlobalSecondaryIndexes {
		if gsi.Projection == nil || gsi.Projection.ProjectionType != types.ProjectionTypeAll {
			return nil, fmt.Errorf("stack: index %s: only projection ALL is mapped", *gsi.IndexName)
		}
		pk, sk, err := keySchema(def, gsi.KeySchema)
		if err != nil {
			return nil, fmt.Errorf("stack: index %s: %w", *gsi.IndexName, err)
		}
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      gsi.IndexName,
			PartitionKey:   pk,
			SortKey:        sk,
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return table, nil
}

// keySchema turns a DynamoDB key schema into CDK attributes, with the types
// from the definition's attribute definitions. sortKey is nil for a
// hash-only key.
func keySchema(def *dynamodb.CreateTableInput, schema []types.KeySchemaElement) (partitionKey, sortKey *awsdynamodb.Attribute, err error) {
	for _, element := range schema {
		attribute, err := attributeOf(def, *element.AttributeName)
		if err != nil {
			return nil, nil, err
		}
		switch element.KeyType {
		case types.KeyTypeHash:
			partitionKey = attribute
		case types.KeyTypeRange:
			sortKey = attribute
		}
	}
	if partitionKey == nil {
		return nil, nil, fmt.Errorf("stack: key schema has no partition key")
	}
	return partitionKey, sortKey, nil
}

func attributeOf(def *dynamodb.CreateTableInput, name string) (*awsdynamodb.Attribute, error) {
	for _, a := range def.AttributeDefinitions {
		if *a.AttributeName != name {
			continue
		}
		var t awsdynamodb.AttributeType
		switch a.AttributeType {
		case types.ScalarAttributeTypeS:
			t = awsdynamodb.AttributeType_STRING
		case types.ScalarAttributeTypeN:
			t = awsdynamodb.AttributeType_NUMBER
		case types.ScalarAttributeTypeB:
			t = awsdynamodb.AttributeType_BINARY
		default:
			return nil, fmt.Errorf("stack: attribute %s has unknown type %q", name, a.AttributeType)
		}
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: t}, nil
	}
	return nil, fmt.Errorf("stack: key attribute %s has no attribute definition", name)
}
