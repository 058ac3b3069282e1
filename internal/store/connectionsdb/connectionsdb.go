// Package connectionsdb is the DynamoDB adapter of connections
// (internal/connections). Its items and access patterns are written down in
// internal/store/keys.go.
package connectionsdb

import "github.com/aws/aws-sdk-go-v2/service/dynamodb"

// Store keeps connections in the table.
type Store struct {
	db    *dynamodb.Client
	table string
}

// New returns the connection store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table}
}
