package event

import (
	"encoding/json"
	"time"
)

// Fields returns the normalised view of the event: a tree of maps, lists
// and scalars with Vigil's field names, the same for every kind of event.
// CEL conditions see it as `event` and title templates as `.event`.
// Absent values are omitted, so rules test them with has(). It builds a new
// tree on each call; callers that need it more than once keep it.
func (e *Event) Fields() map[string]any {
	m := map[string]any{
		"kind":        e.Kind.String(),
		"id":          e.StableID(),
		"time":        e.Time.UTC(),
		"service":     e.Service,
		"action":      e.Action,
		"detail_type": e.DetailType(),
	}
	put := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put(m, "account", e.Account)
	put(m, "region", e.Region)
	put(m, "event_type", e.EventType)
	put(m, "source_address", e.SourceAddress)
	if e.SourceIP.IsValid() {
		m["source_ip"] = e.SourceIP.String()
	}
	put(m, "user_agent", e.UserAgent)
	put(m, "error_code", e.ErrorCode)
	put(m, "error_message", e.ErrorMessage)
	put(m, "vpc_endpoint_id", e.VPCEndpointID)
	if e.ReadOnly != Unknown {
		m["read_only"] = e.ReadOnly == True
	}
	m["failed"] = e.Failed()

	a := map[string]any{"name": e.Actor.Name()}
	put(a, "type", e.Actor.Type)
	put(a, "arn", e.Actor.ARN)
	put(a, "principal_id", e.Actor.PrincipalID)
	put(a, "account", e.Actor.Account)
	put(a, "user_name", e.Actor.UserName)
	put(a, "access_key_id", e.Actor.AccessKeyID)
	put(a, "session_issuer", e.Actor.SessionIssuer)
	put(a, "session_issuer_type", e.Actor.SessionIssuerType)
	put(a, "session_issuer_name", e.Actor.SessionIssuerName)
	put(a, "session_name", e.Actor.SessionName)
	put(a, "invoked_by", e.Actor.InvokedBy)
	put(a, "identity_provider", e.Actor.IdentityProvider)
	put(a, "source_identity", e.Actor.SourceIdentity)
	if e.Actor.MFA != Unknown {
		a["mfa"] = e.Actor.MFA == True
	}
	m["actor"] = a

	res := make([]any, 0, len(e.Resources))
	for _, r := range e.Resources {
		rm := map[string]any{}
		put(rm, "arn", r.ARN)
		put(rm, "type", r.Type)
		put(rm, "account", r.Account)
		res = append(res, rm)
	}
	m["resources"] = res

	if g := e.SourceGeo; g != nil {
		m["geo"] = geoFields(g)
	}
	if s := e.SignIn; s != nil {
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
		m["signin"] = sm
	}
	if f := e.Finding; f != nil {
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
		m["finding"] = fm
	}
	if f := e.Flow; f != nil {
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
		m["flow"] = fm
	}
	if o := e.Object; o != nil {
		m["object"] = map[string]any{"bucket": o.Bucket, "key": o.Key, "size": o.Size}
	}
	return m
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
	return m
}
