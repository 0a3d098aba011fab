package sns

import (
	"errors"
	"fmt"
	"strings"
)

// topics is a compiled topic allow-list.
type topics [][6]string

// compileTopics checks the allow-list patterns and returns them split into
// ARN parts. A pattern is a topic ARN,
// arn:PARTITION:sns:REGION:ACCOUNT:NAME, in which PARTITION, REGION and
// NAME may use * for any run of characters within that part (never across
// a colon). ACCOUNT must be a literal 12-digit account id: anyone can
// create a topic in an account of their own and subscribe Vigil to it,
// with messages SNS signs as genuinely as the operator's.
func compileTopics(patterns []string) (topics, error) {
	if len(patterns) == 0 {
		return nil, errors.New("sns: topics: at least one topic ARN is required")
	}
	var errs []error
	t := make(topics, 0, len(patterns))
	for i, p := range patterns {
		parts, err := topicPattern(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("sns: topics[%d] %q: %w", i, p, err))
			continue
		}
		t = append(t, parts)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

func topicPattern(p string) ([6]string, error) {
	var parts [6]string
	s := strings.Split(p, ":")
	if len(s) != 6 {
		return parts, errors.New("not a topic ARN (arn:PARTITION:sns:REGION:ACCOUNT:NAME)")
	}
	copy(parts[:], s)
	switch {
	case parts[0] != "arn":
		return parts, errors.New(`does not start with "arn:"`)
	case parts[2] != "sns":
		return parts, errors.New(`service is not "sns"`)
	case !isAccount(parts[4]):
		return parts, errors.New("account must be a 12-digit account id (no wildcard)")
	}
	for _, i := range []int{1, 3, 5} {
		if parts[i] == "" {
			return parts, errors.New("empty ARN part")
		}
		for _, r := range parts[i] {
			if !(r == '*' || r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return parts, fmt.Errorf("character %q not allowed", r)
			}
		}
	}
	return parts, nil
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// match reports whether arn matches one of the patterns.
func (t topics) match(arn string) bool {
	s := strings.Split(arn, ":")
	if len(s) != 6 {
		return false
	}
next:
	for _, p := range t {
		for i := range p {
			if !glob(p[i], s[i]) {
				continue next
			}
		}
		return true
	}
	return false
}

// glob reports whether s matches pattern, in which * stands for any run
// of characters and everything else for itself, by backtracking to the
// last star only: O(len(pattern)·len(s)) at worst, with no recursion.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
