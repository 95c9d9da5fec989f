package polybot

import (
	"errors"
	"fmt"
	"sort"
)

// Error codes. Each maps to exactly one HTTP status in internal/server and one
// exit message in cmd/polybot.
const (
	EINVALID      = "invalid"        // bad input; Fields names the culprits
	ENOTFOUND     = "not_found"      // no such thing, or not yours
	ECONFLICT     = "conflict"       // already exists, or changed underneath
	EUNAUTHORIZED = "unauthorized"   // no or bad credentials
	EFORBIDDEN    = "forbidden"      // credentials fine, action not allowed
	ERATELIMIT    = "rate_limited"   // slow down
	EQUOTA        = "quota_exceeded" // monthly trade quota used up
	ETOOLARGE     = "too_large"      // request body over the limit
	EUNAVAILABLE  = "unavailable"    // a dependency cannot be checked; fail closed
	EINTERNAL     = "internal"       // a bug or an unexpected failure; never shown in detail
)

// Error is PolyBot's one error type. Message is safe to show to the user;
// Fields carries per-field messages for EINVALID. Internal errors wrap their
// cause in Err, which is logged but never shown.
type Error struct {
	Code    string
	Message string
	Fields  map[string]string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		s := e.Code + ": " + e.Message
		for _, k := range keys {
			s += "; " + k + ": " + e.Fields[k]
		}
		return s
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldError returns an EINVALID error naming one field.
func FieldError(field, msg string) *Error {
	return &Error{Code: EINVALID, Message: "invalid " + field + ": " + msg, Fields: map[string]string{field: msg}}
}

// Internal wraps an unexpected error. Its detail is for logs only.
func Internal(err error) *Error {
	return &Error{Code: EINTERNAL, Message: "internal error", Err: err}
}

// ErrorCode returns the code of err, EINTERNAL for errors that are not *Error,
// and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the per-field messages of err, if any.
func ErrorFields(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// Validation collects field errors.
type Validation map[string]string

// Add records msg for field unless the field already has one.
func (v Validation) Add(field, msg string) {
	if _, ok := v[field]; !ok {
		v[field] = msg
	}
}

// Err returns nil when no field failed, else an EINVALID *Error.
func (v Validation) Err() error {
	if len(v) == 0 {
		return nil
	}
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msg := "invalid " + keys[0] + ": " + v[keys[0]]
	if len(keys) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(keys)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: map[string]string(v)}
}
