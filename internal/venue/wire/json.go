package wire

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/polybot/polybot"
)

// ErrMalformed marks a message the scanner could not read. Decoders return
// it (or wrap it), so callers test errors.Is(err, wire.ErrMalformed).
var ErrMalformed = errors.New("malformed JSON message")

// Object walks the members of the JSON object that starts at b[i], in
// place: keys are sub-slices of b and nothing is allocated (a string value
// with escapes is the one exception, see Text). The loop is
//
//	it := wire.ObjectAt(b, i)
//	for it.Next() {
//		switch string(it.Key()) {
//		case "price":
//			p, err = it.Decimal()
//		case "bids":
//			end, err := parseLevels(b, it.At()) // a nested value parsed in place
//			it.Seek(end)
//		default:
//			it.Skip()
//		}
//	}
//	if it.Err() != nil { … }
//
// After Next, the caller reads the member's value exactly once: with one of
// the value methods, or by parsing it from At and calling Seek with the
// index after it. After the loop At is the index after the object.
//
// Object and Array share At, Seek, Err, Value and Skip.
type Object struct {
	list
	key []byte
}

// ObjectAt returns an iterator over the object at b[i] (after any space).
func ObjectAt(b []byte, i int) Object { return Object{list: list{b: b, i: i}} }

// Next moves to the next member and reports whether there is one. It stops
// at the end of the object or at the first syntax error (see Err).
func (it *Object) Next() bool {
	if !it.advance('{', '}', false) {
		return false
	}
	b, i := it.b, it.i
	if i >= len(b) || b[i] != '"' {
		return it.fail()
	}
	kend, err := scanString(b, i)
	if err != nil {
		return it.fail()
	}
	it.key = b[i+1 : kend-1]
	i = SkipSpace(b, kend)
	if i >= len(b) || b[i] != ':' {
		return it.fail()
	}
	it.i = SkipSpace(b, i+1)
	return true
}

// Key is the current member's key, raw (keys the decoders look for never
// hold escapes).
func (it *Object) Key() []byte { return it.key }

// Text returns the current value as text: a string's contents (a sub-slice
// of the frame; a string with escapes is unquoted into a new slice, the only
// allocation here), nil for null, and any other scalar raw ("0.5", "true").
func (it *Object) Text() []byte {
	v := it.Value()
	t, err := Text(v)
	if err != nil {
		it.fail()
	}
	return t
}

// Int reads the current value as a JSON integer (a bare number without a
// fraction or exponent); anything else ends the walk with ErrMalformed.
func (it *Object) Int() (int64, error) {
	n, ok := ParseInt(it.Value())
	if !ok {
		it.fail()
		return 0, ErrMalformed
	}
	return n, nil
}

// Decimal reads the current value, a string or a bare number, with
// polybot.ParseDecimalBytes. The error wraps ErrMalformed and names the
// text (it allocates only then); like any bad value it ends the walk.
func (it *Object) Decimal() (polybot.Decimal, error) {
	d, err := Decimal(it.Text())
	if err != nil {
		it.fail()
	}
	return d, err
}

// Array walks the elements of the JSON array that starts at b[i]; null is
// an empty array. After Next the caller reads the element at At and calls
// Seek past it, or calls Value or Skip. After the loop At is the index after
// the array.
type Array struct{ list }

// ArrayAt returns an iterator over the array at b[i] (after any space).
func ArrayAt(b []byte, i int) Array { return Array{list{b: b, i: i}} }

// Next moves to the next element and reports whether there is one.
func (it *Array) Next() bool { return it.advance('[', ']', true) }

// Object returns an iterator over the current element, which the caller
// walks and then passes to SeekPast.
func (it *Array) Object() Object { return ObjectAt(it.b, it.i) }

// SeekPast moves past an element walked with Object, taking its error.
func (it *Array) SeekPast(o *Object) {
	it.i = o.i
	if o.err != nil {
		it.fail()
	}
}

// list is what Object and Array share: the walk over the items of one
// bracketed JSON value, and the current position in the frame.
type list struct {
	b       []byte
	i       int
	err     error
	started bool
	done    bool
}

// advance moves to the next item of the list opened by open and closed by
// close (null stands for an empty list where nullOK), leaving i at the
// item; false at the end (i after the list) or on a syntax error.
func (l *list) advance(open, close byte, nullOK bool) bool {
	if l.done {
		return false
	}
	b := l.b
	i := SkipSpace(b, l.i)
	if !l.started {
		l.started = true
		if nullOK && i+4 <= len(b) && string(b[i:i+4]) == "null" {
			l.i, l.done = i+4, true
			return false
		}
		if i >= len(b) || b[i] != open {
			return l.fail()
		}
		i = SkipSpace(b, i+1)
		if i < len(b) && b[i] == close {
			l.i, l.done = i+1, true
			return false
		}
	} else {
		if i >= len(b) {
			return l.fail()
		}
		if b[i] == close {
			l.i, l.done = i+1, true
			return false
		}
		if b[i] != ',' {
			return l.fail()
		}
		i = SkipSpace(b, i+1)
	}
	l.i = i
	return true
}

// At is the index of the current value in the frame (after the loop: the
// index after the object or array).
func (l *list) At() int { return l.i }

// Seek tells the iterator that the caller parsed the current value itself
// and that it ends before b[i].
func (l *list) Seek(i int) { l.i = i }

// Err is nil after a well-formed object or array, ErrMalformed otherwise.
func (l *list) Err() error { return l.err }

// Value skips the current value and returns its raw bytes.
func (l *list) Value() []byte {
	end, err := SkipValue(l.b, l.i)
	if err != nil {
		l.fail()
		return nil
	}
	v := l.b[l.i:end]
	l.i = end
	return v
}

// Skip passes over the current value.
func (l *list) Skip() { l.Value() }

func (l *list) fail() bool {
	l.done, l.err = true, ErrMalformed
	return false
}

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString returns the index after the closing quote of the string that
// starts at b[i] == '"'.
func scanString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, ErrMalformed
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// SkipValue returns the index after the JSON value that starts at b[i]. It
// checks strings and the nesting of brackets, not the grammar inside.
func SkipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, ErrMalformed
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, ErrMalformed
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, ErrMalformed
		}
		return j, nil
	}
}

// Text turns a raw value into text: a string's contents (unquoted into a
// new slice only when it holds escapes), nil for null, any other value raw.
func Text(v []byte) ([]byte, error) {
	if len(v) == 0 || v[0] != '"' {
		if string(v) == "null" {
			return nil, nil
		}
		return v, nil
	}
	if len(v) < 2 || v[len(v)-1] != '"' {
		return nil, ErrMalformed
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, nil
	}
	u, err := strconv.Unquote(string(v))
	if err != nil {
		return nil, ErrMalformed
	}
	return []byte(u), nil
}

// ParseInt parses a JSON integer ("-12", not "1.0" or "1e3") without
// allocating; ok is false for anything else or beyond ±2^62.
func ParseInt(b []byte) (n int64, ok bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i = 1
	}
	if i == len(b) {
		return 0, false
	}
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Decimal parses text with polybot.ParseDecimalBytes; a failure wraps
// ErrMalformed and quotes the text.
func Decimal(text []byte) (polybot.Decimal, error) {
	d, err := polybot.ParseDecimalBytes(text)
	if err != nil {
		return polybot.Zero, fmt.Errorf("%w: decimal %q: %v", ErrMalformed, text, err)
	}
	return d, nil
}

// UnixTime reads a Unix time in milliseconds ("1757908892351") or, for ten
// digits or fewer, seconds. Anything else, and zero, is the zero time.
func UnixTime(b []byte) time.Time {
	if len(b) > 19 {
		return time.Time{}
	}
	n, ok := ParseInt(b)
	if !ok || n <= 0 {
		return time.Time{}
	}
	if n < 1e11 {
		return time.Unix(n, 0)
	}
	return time.UnixMilli(n)
}
