package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &polybot.Error{Code: polybot.ETOOLARGE, Message: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Fields: map[string]string{"body": fmt.Sprintf("must be at most %d bytes", mbe.Limit)}}
		}
		return nil, &polybot.Error{Code: polybot.EINVALID, Message: "could not read request body", Fields: map[string]string{"body": "unreadable"}}
	}
	return b, nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &polybot.Error{Code: polybot.EINVALID, Message: "request body must hold one JSON object", Fields: map[string]string{"body": "trailing data after the JSON object"}}
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	msg := err.Error()
	switch {
	case errors.As(err, &te) && te.Field != "":
		return polybot.FieldError(te.Field, "must be a "+te.Type.String())
	case errors.As(err, &se), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &polybot.Error{Code: polybot.EINVALID, Message: "malformed JSON", Fields: map[string]string{"body": "malformed JSON"}}
	case strings.HasPrefix(msg, "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		if len(f) > 64 {
			f = f[:64]
		}
		return polybot.FieldError(f, "is not a known field")
	}
	return &polybot.Error{Code: polybot.EINVALID, Message: "invalid request body", Fields: map[string]string{"body": "invalid"}}
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
