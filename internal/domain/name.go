package domain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CheckName validates a resource's display name, trimmed of surrounding
// space: required, at most max characters, and free of control characters
// and of the bidirectional formatting characters that can make a name read
// differently from what it is (a key named "\u202egnp.exe" shows as
// "exe.png") in a listing, a terminal or a log. It returns the name to store.
func CheckName(field, raw string, max int) (string, *FieldError) {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		return "", &FieldError{Field: field, Message: "is required"}
	case !utf8.ValidString(name):
		return "", &FieldError{Field: field, Message: "must be valid UTF-8"}
	case utf8.RuneCountInString(name) > max:
		return "", &FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", max)}
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return "", &FieldError{Field: field, Message: fmt.Sprintf("must not contain control or bidirectional formatting characters (found U+%04X)", r)}
		}
	}
	return name, nil
}
