package dynamotest

import "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

// AttributeBytes is every byte string an attribute holds, its name
// included, through lists, maps and sets: what a test that scans a raw copy
// of the table for a leaked secret searches. It walks with its own stack,
// so an attribute nested as deep as DynamoDB allows costs no recursion.
func AttributeBytes(name string, av types.AttributeValue) [][]byte {
	out := [][]byte{[]byte(name)}
	pending := []types.AttributeValue{av}
	for len(pending) > 0 {
		v := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out = append(out, []byte(v.Value))
		case *types.AttributeValueMemberN:
			out = append(out, []byte(v.Value))
		case *types.AttributeValueMemberB:
			out = append(out, v.Value)
		case *types.AttributeValueMemberSS:
			for _, s := range v.Value {
				out = append(out, []byte(s))
			}
		case *types.AttributeValueMemberNS:
			for _, s := range v.Value {
				out = append(out, []byte(s))
			}
		case *types.AttributeValueMemberBS:
			out = append(out, v.Value...)
		case *types.AttributeValueMemberL:
			pending = append(pending, v.Value...)
		case *types.AttributeValueMemberM:
			for k, e := range v.Value {
				out = append(out, []byte(k))
				pending = append(pending, e)
			}
		}
	}
	return out
}
