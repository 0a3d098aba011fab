package event

import (
	"encoding/json"
	"time"
)

// fieldNames are the top-level names of the normalised view, in order.
var fieldNames = []string{
	"kind", "id", "time", "service", "action", "detail_type", "account", "region", "event_type",
	"source_address", "source_ip", "user_agent", "error_code", "error_message", "vpc_endpoint_id",
	"read_only", "failed", "actor", "resources", "geo", "signin", "finding", "flow", "object",
	"account_info", "addresses",
}

// Fields returns the normalised view of the event: a tree of maps, lists
// and scalars with Vigil's field names, the same for every kind of event.
// CEL conditions see it as `event` and title templates as `.event`.
// Absent values are omitted, so rules test them with has(). It builds a new
// tree on each call; callers that need it more than once keep it, and
// callers that need a few fields use Field.
func (e *Event) Fields() map[string]any {
	m := make(map[string]any, len(fieldNames))
	for _, name := range fieldNames {
		if v, ok := e.Field(name); ok {
			m[name] = v
		}
	}
	return m
}

// Field returns one top-level field of the normalised view (see Fields),
// and whether the event has it.
func (e *Event) Field(name string) (any, bool) {
	if s, has, ok := e.TextField(name); ok {
		if !has {
			return nil, false
		}
		return s, true
	}
	switch name {
	case "time":
		return e.Time.UTC(), true
	case "read_only":
		if e.ReadOnly != Unknown {
			return e.ReadOnly == True, true
		}
	case "failed":
		return e.Failed(), true
	case "actor":
		return e.actorFields(), true
	case "resources":
		return e.resourceFields(), true
	case "geo":
		e.Enrich()
		if g := e.SourceGeo; g != nil {
			return geoFields(g), true
		}
	case "account_info":
		e.Enrich()
		if a := e.AccountInfo; a != nil {
			m := make(map[string]any, 3)
			put(m, "name", a.Name)
			put(m, "environment", a.Environment)
			put(m, "owner", a.Owner)
			return m, true
		}
	case "addresses":
		e.Enrich()
		if len(e.Addrs) > 0 {
			l := make([]any, len(e.Addrs))
			for i, a := range e.Addrs {
				m := map[string]any{}
				if a.Info != nil {
					m = geoFields(a.Info)
				}
				m["field"], m["ip"] = a.Field, a.IP.String()
				l[i] = m
			}
			return l, true
		}
	case "signin":
		if m := e.signInFields(); m != nil {
			return m, true
		}
	case "finding":
		if m := e.findingFields(); m != nil {
			return m, true
		}
	case "flow":
		if m := e.flowFields(); m != nil {
			return m, true
		}
	case "object":
		if o := e.Object; o != nil {
			return map[string]any{"bucket": o.Bucket, "key": o.Key, "size": o.Size}, true
		}
	}
	return nil, false
}

// TextField returns one of the normalised view's string fields without
// boxing it: ok reports that name is a string field, has that the event
// has it. Field gives the same answers.
func (e *Event) TextField(name string) (v string, has, ok bool) {
	switch name {
	case "kind":
		return e.Kind.String(), true, true
	case "id":
		return e.StableID(), true, true
	case "service":
		return e.Service, true, true
	case "action":
		return e.Action, true, true
	case "detail_type":
		return e.DetailType(), true, true
	case "account":
		v = e.Account
	case "region":
		v = e.Region
	case "event_type":
		v = e.EventType
	case "source_address":
		v = e.SourceAddress
	case "source_ip":
		if e.SourceIP.IsValid() {
			v = e.SourceIP.String()
		}
	case "user_agent":
		v = e.UserAgent
	case "error_code":
		v = e.ErrorCode
	case "error_message":
		v = e.ErrorMessage
	case "vpc_endpoint_id":
		v = e.VPCEndpointID
	default:
		return "", false, false
	}
	return v, v != "", true
}

// put sets m[k] to v unless v is empty.
func put(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// actorFieldNames are the names of the normalised actor's fields.
var actorFieldNames = []string{
	"name", "type", "arn", "principal_id", "account", "user_name", "access_key_id", "session_issuer",
	"session_issuer_type", "session_issuer_name", "session_name", "invoked_by", "identity_provider",
	"source_identity", "mfa",
}

func (e *Event) actorFields() map[string]any {
	a := make(map[string]any, 8)
	for _, name := range actorFieldNames {
		if v, ok := e.Actor.Field(name); ok {
			a[name] = v
		}
	}
	return a
}

// ActorFields is the normalised actor (event.actor), as Fields gives it.
func (e *Event) ActorFields() map[string]any { return e.actorFields() }

// Field returns one field of the normalised actor (event.actor), and
// whether the actor has it.
func (a *Actor) Field(name string) (any, bool) {
	if s, has, ok := a.TextField(name); ok {
		if !has {
			return nil, false
		}
		return s, true
	}
	switch name {
	case "mfa":
		if a.MFA != Unknown {
			return a.MFA == True, true
		}
	}
	return nil, false
}

// TextField returns one of the normalised actor's string fields without
// boxing it, as Event.TextField does for the event.
func (a *Actor) TextField(name string) (v string, has, ok bool) {
	switch name {
	case "name":
		return a.Name(), true, true
	case "type":
		v = a.Type
	case "arn":
		v = a.ARN
	case "principal_id":
		v = a.PrincipalID
	case "account":
		v = a.Account
	case "user_name":
		v = a.UserName
	case "access_key_id":
		v = a.AccessKeyID
	case "session_issuer":
		v = a.SessionIssuer
	case "session_issuer_type":
		v = a.SessionIssuerType
	case "session_issuer_name":
		v = a.SessionIssuerName
	case "session_name":
		v = a.SessionName
	case "invoked_by":
		v = a.InvokedBy
	case "identity_provider":
		v = a.IdentityProvider
	case "source_identity":
		v = a.SourceIdentity
	default:
		return "", false, false
	}
	return v, v != "", true
}

func (e *Event) resourceFields() []any {
	res := make([]any, 0, len(e.Resources))
	for _, r := range e.Resources {
		rm := map[string]any{}
		put(rm, "arn", r.ARN)
		put(rm, "type", r.Type)
		put(rm, "account", r.Account)
		res = append(res, rm)
	}
	return res
}

func (e *Event) signInFields() map[string]any {
	s := e.SignIn
	if s == nil {
		return nil
	}
	sm := map[string]any{}
	put(sm, "result", s.Result)
	put(sm, "login_to", s.LoginTo)
	put(sm, "failure", s.Failure)
	if s.MFAUsed != Unknown {
		sm["mfa_used"] = s.MFAUsed == True
	}
	if s.Mobile != Unknown {
		sm["mobile"] = s.Mobile == True
	}
	return sm
}

func (e *Event) findingFields() map[string]any {
	f := e.Finding
	if f == nil {
		return nil
	}
	fm := map[string]any{
		"id": f.ID, "severity": f.Severity, "archived": f.Archived, "sample": f.Sample, "count": f.Count,
	}
	put(fm, "type", f.Type)
	put(fm, "title", f.Title)
	put(fm, "description", f.Description)
	put(fm, "status", f.Status)
	put(fm, "resource_type", f.ResourceType)
	put(fm, "error", f.Error)
	if f.Public != Unknown {
		fm["public"] = f.Public == True
	}
	if len(f.Actions) > 0 {
		acts := make([]any, len(f.Actions))
		for i, s := range f.Actions {
			acts[i] = s
		}
		fm["actions"] = acts
	}
	if len(f.Principal) > 0 {
		var p map[string]any
		if json.Unmarshal(f.Principal, &p) == nil {
			fm["principal"] = p
		}
	}
	ips := make([]any, len(f.RemoteIPs))
	for i, ip := range f.RemoteIPs {
		ips[i] = ip.String()
	}
	fm["remote_ips"] = ips
	for k, t := range map[string]time.Time{"first_seen": f.FirstSeen, "last_seen": f.LastSeen, "created_at": f.CreatedAt, "updated_at": f.UpdatedAt} {
		if !t.IsZero() {
			fm[k] = t
		}
	}
	return fm
}

func (e *Event) flowFields() map[string]any {
	f := e.Flow
	if f == nil {
		return nil
	}
	fm := map[string]any{}
	num := func(k string, v int64) {
		if v >= 0 {
			fm[k] = v
		}
	}
	num("version", int64(f.Version))
	put(fm, "interface_id", f.InterfaceID)
	if f.SrcAddr.IsValid() {
		fm["srcaddr"] = f.SrcAddr.String()
	}
	if f.DstAddr.IsValid() {
		fm["dstaddr"] = f.DstAddr.String()
	}
	if f.PktSrcAddr.IsValid() {
		fm["pkt_srcaddr"] = f.PktSrcAddr.String()
	}
	if f.PktDstAddr.IsValid() {
		fm["pkt_dstaddr"] = f.PktDstAddr.String()
	}
	num("srcport", int64(f.SrcPort))
	num("dstport", int64(f.DstPort))
	num("protocol", int64(f.Protocol))
	num("packets", f.Packets)
	num("bytes", f.Bytes)
	num("start", f.Start)
	num("end", f.End)
	num("tcp_flags", int64(f.TCPFlags))
	num("traffic_path", int64(f.TrafficPath))
	put(fm, "action", f.Action)
	put(fm, "log_status", f.LogStatus)
	put(fm, "vpc_id", f.VPCID)
	put(fm, "subnet_id", f.SubnetID)
	put(fm, "instance_id", f.InstanceID)
	put(fm, "type", f.Type)
	put(fm, "region", f.Region)
	put(fm, "az_id", f.AZID)
	put(fm, "flow_direction", f.FlowDirection)
	put(fm, "pkt_src_aws_service", f.PktSrcAWSService)
	put(fm, "pkt_dst_aws_service", f.PktDstAWSService)
	put(fm, "reject_reason", f.RejectReason)
	put(fm, "ecs_cluster_name", f.ECSClusterName)
	put(fm, "ecs_service_name", f.ECSServiceName)
	return fm
}

func geoFields(g *Geo) map[string]any {
	m := map[string]any{}
	if g.Country != "" {
		m["country"] = g.Country
	}
	if g.CountryName != "" {
		m["country_name"] = g.CountryName
	}
	if g.City != "" {
		m["city"] = g.City
	}
	if g.HasLocation {
		m["lat"], m["lon"] = g.Latitude, g.Longitude
	}
	if g.ASN != 0 {
		m["asn"] = int64(g.ASN)
	}
	if g.ASOrg != "" {
		m["as_org"] = g.ASOrg
	}
	if r := g.AWS; r != nil {
		aws := map[string]any{"service": r.Service, "region": r.Region, "prefix": r.Prefix}
		put(aws, "network_border_group", r.NetworkBorderGroup)
		m["aws"] = aws
	}
	return m
}
