package store

import (
	"encoding/base64"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/workflowsapi/workflows/internal/domain"
	"github.com/workflowsapi/workflows/internal/ids"
)

// ItemKey is the primary key of the item at (pk, sk).
func ItemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// NumberAV is n as a DynamoDB number.
func NumberAV(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// NumberAttr reads a number attribute of item; 0 if it is absent.
func NumberAttr(item map[string]types.AttributeValue, name string) int64 {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

// IsConditionFailed reports whether a write was refused by its condition.
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// EncodeCursor makes a listing's cursor. Cursors carry only the id of the
// last item of a page; the adapter rebuilds the key from the caller's own
// account, so a cursor cannot reach another account's items.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// DecodeCursor reads a cursor made by EncodeCursor for ids with idPrefix, and
// returns domain.ErrBadCursor for anything else.
func DecodeCursor(cursor, idPrefix string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !ids.Valid(idPrefix, string(raw)) {
		return "", domain.ErrBadCursor
	}
	return string(raw), nil
}
