// Package connections is the connections feature: stored credentials for
// outside services (a bearer token, a user and password, or one header), the
// rules for creating, replacing, listing and deleting them (Service), and their
// HTTP handlers. Credentials are sealed (internal/secrets, envelope encryption
// with the account and connection id as encryption context) before they reach
// the store, and never come back out through a route: reads show id, name,
// type and times only, and the routes' Service can seal but not open. The one
// way back to the plaintext is Opener, for the runner that applies the
// credentials to a step's request. Its DynamoDB adapter is
// store/connectionsdb.
package connections

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// Type is the kind of a connection: how its credentials go on a request.
type Type string

// The types of connection.
const (
	// TypeBearer sends "Authorization: Bearer <token>".
	TypeBearer Type = "bearer"
	// TypeBasic sends "Authorization: Basic base64(<username>:<password>)".
	TypeBasic Type = "basic"
	// TypeHeader sends one header, "<name>: <value>".
	TypeHeader Type = "header"
)

// Types lists the connection types, in the order messages name them.
var Types = []Type{TypeBearer, TypeBasic, TypeHeader}

// Connection is a connection as every read shows it: never its credentials.
type Connection struct {
	ID        string
	AccountID string
	Name      string
	Type      Type
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Credentials are the secret part of a connection: the type and the fields
// of that type only.
//
// They print as a fixed placeholder with fmt, slog and encoding/json, so a
// credential cannot reach a log line or a response by a careless %v, slog
// attribute or JSON encoding of a struct that holds them. The one JSON form
// that carries them is the sealed plaintext (sealedForm).
type Credentials struct {
	Type     Type
	Token    string
	Username string
	Password string
	Name     string
	Value    string
}

const redacted = "[redacted credentials]"

// Format prints the placeholder for every verb (%v, %+v, %#v, %s, %q).
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, redacted) }

// LogValue is what slog records in place of the credentials.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON writes the placeholder: see sealedForm for the real encoding.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// sealedForm is the plaintext that is encrypted: JSON with the type
// included, so a sealed value carries its own type and a type attribute
// changed beside it is noticed when it is opened.
type sealedForm struct {
	Type     Type   `json:"type"`
	Token    string `json:"token,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Name     string `json:"name,omitempty"`
	Value    string `json:"value,omitempty"`
}

// EncryptionContext is what a connection's credentials are sealed under and
// must be opened with: the account and the connection's id, so a sealed value
// copied onto another connection or account does not open there.
func EncryptionContext(account, connectionID string) map[string]string {
	return map[string]string{"account": account, "connection": connectionID}
}
