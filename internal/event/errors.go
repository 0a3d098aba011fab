package event

import "fmt"

// FieldError reports a record field that is missing or malformed. Decoders
// return it so that error messages can name the field.
type FieldError struct {
	Field string // dotted path, e.g. "userIdentity.type"
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %s: %v", e.Field, e.Err) }

func (e *FieldError) Unwrap() error { return e.Err }

// FieldErr returns a *FieldError for field with a formatted reason.
func FieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}
