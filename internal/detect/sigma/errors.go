package sigma

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrUnsupported is wrapped by the errors [Parse] returns for valid Sigma
// rules that Vigil cannot compile: a modifier or feature it does not
// implement, a log source other than aws/cloudtrail, correlation rules and
// the old aggregation syntax. Test for it with errors.Is.
var ErrUnsupported = errors.New("sigma: unsupported")

// Error is a problem at a position of a rule file. Its text reads
// "name:line:col: message"; the column is left out when the YAML parser
// did not report one.
type Error struct {
	Name      string // the name given to Parse, usually the file name
	Line, Col int    // 1-based; 0 when unknown
	Msg       string
	Err       error // ErrUnsupported for valid but unsupported rules, else nil
}

// Error returns "name:line:col: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Name)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if errors.Is(e.Err, ErrUnsupported) {
		b.WriteString("unsupported: ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns ErrUnsupported for unsupported rules and nil otherwise.
func (e *Error) Unwrap() error { return e.Err }

// Unsupported reports whether e says the rule is valid Sigma that Vigil
// does not implement.
func (e *Error) Unsupported() bool { return errors.Is(e.Err, ErrUnsupported) }

// errAt returns a malformed-rule error at n's position.
func errAt(name string, n *yaml.Node, format string, args ...any) *Error {
	e := &Error{Name: name, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Col = n.Line, n.Column
	}
	return e
}

// unsupportedAt returns an ErrUnsupported error at n's position.
func unsupportedAt(name string, n *yaml.Node, format string, args ...any) *Error {
	e := errAt(name, n, format, args...)
	e.Err = ErrUnsupported
	return e
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns a yaml.v3 error ("yaml: line 3: did not find expected
// key") into an *Error. yaml.v3 reports lines but no columns.
func yamlError(name string, err error) *Error {
	msg := err.Error()
	e := &Error{Name: name, Msg: msg}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = "yaml: " + msg[len(m[0]):]
	}
	return e
}
