package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
)

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// diff compares want and got field by field and describes each difference,
// or returns "". It is lenient only where backends legitimately differ:
// times compare with Equal (any location), JSON documents by meaning (JSONB
// reorders keys), and a nil slice or map equals an empty one.
func diff(want, got any) string {
	var d differ
	d.walk("", reflect.ValueOf(want), reflect.ValueOf(got))
	return strings.Join(d.out, "\n")
}

type differ struct{ out []string }

func (d *differ) add(path string, want, got any) {
	if path == "" {
		path = "(value)"
	}
	d.out = append(d.out, fmt.Sprintf("  %s: %v != %v", path, show(want), show(got)))
}

func show(v any) any {
	switch x := v.(type) {
	case json.RawMessage:
		return string(x)
	case []byte:
		return fmt.Sprintf("%x", x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func (d *differ) walk(path string, a, b reflect.Value) {
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() != b.IsValid() {
			d.add(path, a, b)
		}
		return
	}
	if a.Type() != b.Type() {
		d.add(path, a.Type(), b.Type())
		return
	}
	switch a.Type() {
	case timeType:
		ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
		if !ta.Equal(tb) {
			d.add(path, ta, tb)
		}
		return
	case rawType:
		if !jsonEqual(a.Bytes(), b.Bytes()) {
			d.add(path, json.RawMessage(a.Bytes()), json.RawMessage(b.Bytes()))
		}
		return
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() != b.IsNil() {
				d.add(path, a.Interface(), b.Interface())
			}
			return
		}
		d.walk(path, a.Elem(), b.Elem())
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if !a.Type().Field(i).IsExported() {
				// A type with hidden state (polybot.Decimal) compares whole.
				if !reflect.DeepEqual(a.Interface(), b.Interface()) {
					d.add(path, a.Interface(), b.Interface())
				}
				return
			}
		}
		for i := 0; i < a.NumField(); i++ {
			d.walk(join(path, a.Type().Field(i).Name), a.Field(i), b.Field(i))
		}
	case reflect.Slice:
		if a.Type().Elem().Kind() == reflect.Uint8 {
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				d.add(path, a.Bytes(), b.Bytes())
			}
			return
		}
		if a.Len() != b.Len() {
			d.add(path+".len", a.Len(), b.Len())
			return
		}
		for i := 0; i < a.Len(); i++ {
			d.walk(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i))
		}
	case reflect.Map:
		keys := map[string]reflect.Value{}
		for _, k := range append(a.MapKeys(), b.MapKeys()...) {
			keys[fmt.Sprint(k.Interface())] = k
		}
		names := make([]string, 0, len(keys))
		for n := range keys {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d.walk(fmt.Sprintf("%s[%s]", path, n), a.MapIndex(keys[n]), b.MapIndex(keys[n]))
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			d.add(path, a.Interface(), b.Interface())
		}
	}
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
