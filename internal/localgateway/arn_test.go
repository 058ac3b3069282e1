package localgateway

import "testing"

func TestPolicyResourcesMatchAsIAMWildcards(t *testing.T) {
	const arn = "arn:aws:execute-api:us-east-1:000000000000:localapi/local/DELETE/api/v1/auth/api-keys/abc\ndef"
	tests := []struct {
		name, pattern, arn string
		want               bool
	}{
		{"a star matches the rest of the stage, newlines included", "arn:aws:execute-api:us-east-1:000000000000:localapi/local/*", arn, true},
		{"a star matches an empty run", "arn:aws:execute-api:*:000000000000:localapi/local/*", "arn:aws:execute-api::000000000000:localapi/local/", true},
		{"a question mark matches exactly one character", "arn:aws:execute-api:us-east-1:000000000000:localapi/loca?/*", arn, true},
		{"a question mark does not match nothing", "arn:aws:execute-api:us-east-1:000000000000:localapi/local?/*", "arn:aws:execute-api:us-east-1:000000000000:localapi/local/", false},
		{"another stage does not match", "arn:aws:execute-api:us-east-1:000000000000:localapi/prod/*", arn, false},
		{"a dot is a dot, not any character", "arn:aws:execute-api:us-east-1:000000000000:localapi/local/GET/a.c", "arn:aws:execute-api:us-east-1:000000000000:localapi/local/GET/abc", false},
		{"brackets are literal", "arn:[a]/*", "arn:[a]/x", true},
		{"a pattern without wildcards matches only itself", "arn:x", "arn:x\n", false},
		{"stars backtrack", "a*b*c", "aXbYbZc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := arnMatches(tt.pattern, tt.arn); got != tt.want {
				t.Fatalf("arnMatches(%q, %q) = %v, want %v", tt.pattern, tt.arn, got, tt.want)
			}
		})
	}
}
