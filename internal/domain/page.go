package domain

// Page is one page of a listing, newest first. Every feature's listings
// return it, so the list helper of the HTTP pipeline writes any of them.
type Page[T any] struct {
	Items []T
	// NextCursor is empty on the last page.
	NextCursor string
}

// ErrBadCursor is what a listing returns for a cursor it did not make: a
// VALIDATION_ERROR naming the cursor, so no handler maps store errors.
var ErrBadCursor = Invalid(FieldError{Field: "cursor", Message: "is not a cursor from this listing"})
