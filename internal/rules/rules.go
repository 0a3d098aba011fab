// Package rules is Vigil's built-in detection catalogue.
//
// Rules that need Go code, like the S3 exposure rules with their policy
// evaluator, are written here as [detect.Rule]s; every rule carries its
// catalogue entry and is listed in [All], the one place that says which
// rules ship.
package rules

import (
	"context"
	"slices"
	"strings"

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

// apiRule is a rule on successful CloudTrail API calls, written as a Go
// function of the event and its decoded requestParameters. Failed calls (an
// errorCode) never reach eval, nor do records that only describe calls
// (Insights records name an API in insightDetails; network activity events
// record calls through VPC endpoints that were denied).
type apiRule struct {
	meta detect.Meta
	keys []detect.Key
	// needParams skips calls whose record has no requestParameters.
	needParams bool
	eval       func(ev *event.Event, p params) ([]detect.Finding, error)
}

func (r *apiRule) Meta() detect.Meta {
	m := r.meta
	m.Tags = slices.Clone(m.Tags)
	return m
}

func (r *apiRule) Keys() []detect.Key { return r.keys }

func (r *apiRule) Eval(_ context.Context, ev *event.Event) ([]detect.Finding, error) {
	if ev.Failed() || !isAPICall(ev) {
		return nil, nil
	}
	p, err := decodeParams(ev.RequestParameters)
	if err != nil {
		return nil, err
	}
	if p == nil && r.needParams {
		return nil, nil
	}
	return r.eval(ev, p)
}

// isAPICall reports a record of an API call that was made (eventType
// AwsApiCall, or none in old records), as opposed to an Insights record, a
// service event or a VPC endpoint network activity record.
func isAPICall(ev *event.Event) bool {
	return ev.EventType == "" || strings.EqualFold(ev.EventType, "AwsApiCall")
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
