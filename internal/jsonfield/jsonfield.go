// Package jsonfield writes where in a request body a problem is, in the
// contract's notation for `details[].field` (steps[2].with.jq), and how a
// JSON type is named in a message. The HTTP pipeline's body decoding and the
// workflow definition parser both report through it, so every route names
// fields the same way.
package jsonfield

import (
	"reflect"
	"slices"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// Join appends a member's name to path. An empty name (JSON allows one)
// shows as "", so that no detail has an empty field.
func Join(path, name string) string {
	if name == "" {
		name = `""`
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// Pointer appends a JSON pointer (/steps/2/with) to path: steps[2].with.
func Pointer(path string, ptr jsontext.Pointer) string {
	return Tokens(path, slices.Collect(ptr.Tokens()))
}

// Tokens appends the tokens of a JSON pointer to path: numbers as indexes,
// names after a dot.
func Tokens(path string, tokens []string) string {
	for _, token := range tokens {
		if _, err := strconv.Atoi(token); err == nil && path != "" {
			path += "[" + token + "]"
			continue
		}
		path = Join(path, token)
	}
	return path
}

// OrBody is field, or "body" for the body itself.
func OrBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

// TypeName names the JSON type a Go type decodes from, for "must be …".
func TypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	default:
		return "a number"
	}
}
