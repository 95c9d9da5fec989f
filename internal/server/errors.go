package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/polybot/polybot"
)

// codeMethodNotAllowed is the one HTTP-only error code: a known path asked
// with the wrong method.
const codeMethodNotAllowed = "method_not_allowed"

// statusOf maps error codes to HTTP statuses: the only place that does.
func statusOf(code string) int {
	switch code {
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case polybot.EINVALID:
		return http.StatusBadRequest
	case polybot.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case polybot.EFORBIDDEN, polybot.EQUOTA:
		return http.StatusForbidden
	case polybot.ENOTFOUND:
		return http.StatusNotFound
	case polybot.ECONFLICT:
		return http.StatusConflict
	case polybot.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case polybot.ERATELIMIT:
		return http.StatusTooManyRequests
	case polybot.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
}

// writeError renders err. Internal errors are logged with their cause and
// shown as "internal error" only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := polybot.ErrorCode(err)
	if code == polybot.EINTERNAL || code == polybot.EUNAVAILABLE {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	fields := polybot.ErrorFields(err)
	if fields == nil {
		fields = map[string]string{}
	}
	var rl *rateLimited
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", fmt.Sprint(rl.retryAfterSeconds))
	}
	_ = writeJSON(w, statusOf(code), errorBody{Code: code, Message: polybot.ErrorMessage(err), Fields: fields})
}

// rateLimited is an ERATELIMIT error that also sets Retry-After.
type rateLimited struct {
	err               *polybot.Error
	retryAfterSeconds int
}

func (e *rateLimited) Error() string { return e.err.Error() }
func (e *rateLimited) Unwrap() error { return e.err }

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

// decodeJSON reads a JSON object into v, rejecting unknown fields, trailing
// data, wrong types and oversized bodies with field-level errors.
func decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

func readBody(r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, &polybot.Error{Code: polybot.EINVALID, Message: "Content-Type must be application/json", Fields: map[string]string{"body": "must be application/json"}}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, readBodyError(err)
	}
	return b, nil
}

// readBodyError is the error of a body that could not be read: too large,
// or unreadable.
func readBodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &polybot.Error{Code: polybot.ETOOLARGE, Message: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Fields: map[string]string{"body": fmt.Sprintf("must be at most %d bytes", mbe.Limit)}}
	}
	return &polybot.Error{Code: polybot.EINVALID, Message: "could not read request body", Fields: map[string]string{"body": "unreadable"}}
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, v, err)
	}
	if dec.More() {
		return &polybot.Error{Code: polybot.EINVALID, Message: "request body must hold one JSON object", Fields: map[string]string{"body": "trailing data after the JSON object"}}
	}
	return nil
}

// jsonError turns a decoding error into a field error. body and v (the
// value decoded into) let it find the field whose value a type's own
// UnmarshalJSON refused (a bad decimal), which encoding/json does not name.
func jsonError(body []byte, v any, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	msg := err.Error()
	switch {
	case errors.As(err, &te) && te.Field != "":
		return polybot.FieldError(truncateField(te.Field), typeProblem(te))
	case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &polybot.Error{Code: polybot.EINVALID, Message: "malformed JSON", Fields: map[string]string{"body": "malformed JSON"}}
	case strings.HasPrefix(msg, "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return polybot.FieldError(truncateField(f), "is not a known field")
	}
	if field, msg := badField(body, v); field != "" {
		return polybot.FieldError(field, msg)
	}
	return &polybot.Error{Code: polybot.EINVALID, Message: "invalid request body", Fields: map[string]string{"body": "invalid"}}
}

// badField decodes each top-level field of the JSON object body alone into
// a fresh value of v's type and names the first (in sorted order) that
// fails, with what is wrong with it.
func badField(body []byte, v any) (string, string) {
	rt := reflect.TypeOf(v)
	if rt == nil || rt.Kind() != reflect.Pointer {
		return "", ""
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return "", ""
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: obj[k]})
		if err := json.Unmarshal(one, reflect.New(rt.Elem()).Interface()); err != nil {
			return truncateField(k), fieldProblem(err)
		}
	}
	return "", ""
}

// typeProblem says what JSON a field wanted.
func typeProblem(te *json.UnmarshalTypeError) string {
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if te.Value == "number" || strings.HasPrefix(te.Value, "number ") {
			return "must be a whole number in range"
		}
		return "must be a whole number"
	case reflect.Bool:
		return "must be true or false"
	case reflect.String:
		return "must be a string"
	}
	return "must be a " + te.Type.String()
}

// fieldProblem says what is wrong with a value its type refused.
func fieldProblem(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "decimal places"):
		return "must have at most 6 decimal places"
	case strings.Contains(msg, "out of range"):
		return "is out of range"
	case strings.Contains(msg, "decimal"):
		return "must be a decimal number, such as \"12.50\""
	}
	return "has an invalid value"
}

func truncateField(f string) string {
	if len(f) > 64 {
		f = f[:64]
	}
	return strings.ToValidUTF8(f, "?")
}

// recoverPanic turns a handler panic into a logged 500. The panic value is
// logged by type only: it could hold anything.
func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic_type", fmt.Sprintf("%T", v))
		s.writeError(w, r, polybot.Internal(errors.New("panic")))
	}
}
