// Package rules is Vigil's built-in detection catalogue.
//
// Rules that need Go code, like the S3 exposure rules with their policy
// evaluator, are written here as [detect.Rule]s; every rule carries its
// catalogue entry and is listed in [All], the one place that says which
// rules ship.
package rules

import (
	"context"

	"github.com/vigil-sec/vigil/internal/detect"
	"github.com/vigil-sec/vigil/internal/event"
)

// All returns a fresh instance of every built-in rule, in catalogue order.
func All() []detect.Rule {
	return []detect.Rule{
		bucketACLPublic(),
		bucketPolicyPublic(),
		bucketPublicAccessBlockRemoved(),
		accountPublicAccessBlockRemoved(),
		objectACLPublic(),
		bucketACLsEnabled(),
		accessPointPolicyPublic(),
	}
}

// goRule is a rule implemented by a Go function.
type goRule struct {
	meta detect.Meta
	keys []detect.Key
	eval func(ev *event.Event) ([]detect.Finding, error)
}

func (r *goRule) Meta() detect.Meta { return r.meta }

func (r *goRule) Keys() []detect.Key { return r.keys }

func (r *goRule) Eval(_ context.Context, ev *event.Event) ([]detect.Finding, error) {
	return r.eval(ev)
}

// cloudTrailKeys returns the keys of successful-or-not CloudTrail calls to
// the named actions of one service.
func cloudTrailKeys(service string, actions ...string) []detect.Key {
	keys := make([]detect.Key, len(actions))
	for i, a := range actions {
		keys[i] = detect.Key{Kind: event.KindCloudTrail, Service: service, Action: a}
	}
	return keys
}
