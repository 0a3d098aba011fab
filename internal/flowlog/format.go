// Package flowlog decodes VPC Flow Logs records in every documented format:
// the default version 2 format, custom formats named by a header line (as
// S3 delivery writes them), and headerless records whose field count matches
// the documented field order of a version (2, 3, 4, 5, 7 or 8).
package flowlog

import (
	"bytes"
	"fmt"
	"strings"
)

// field identifies a flow-log field Vigil models.
type field uint8

const (
	fUnknown field = iota
	fVersion
	fAccountID
	fInterfaceID
	fSrcAddr
	fDstAddr
	fSrcPort
	fDstPort
	fProtocol
	fPackets
	fBytes
	fStart
	fEnd
	fAction
	fLogStatus
	fVPCID
	fSubnetID
	fInstanceID
	fTCPFlags
	fType
	fPktSrcAddr
	fPktDstAddr
	fRegion
	fAZID
	fSublocationType
	fSublocationID
	fPktSrcAWSService
	fPktDstAWSService
	fFlowDirection
	fTrafficPath
	fECSClusterARN
	fECSClusterName
	fECSContainerInstanceARN
	fECSContainerInstanceID
	fECSContainerID
	fECSSecondContainerID
	fECSServiceName
	fECSTaskDefinitionARN
	fECSTaskARN
	fECSTaskID
	fRejectReason
)

// documented lists the fields in the order of the VPC User Guide's
// "Available fields" table, which is also the order of a headerless record
// that carries all fields of a version.
var documented = []struct {
	name    string
	f       field
	version int
}{
	{"version", fVersion, 2},
	{"account-id", fAccountID, 2},
	{"interface-id", fInterfaceID, 2},
	{"srcaddr", fSrcAddr, 2},
	{"dstaddr", fDstAddr, 2},
	{"srcport", fSrcPort, 2},
	{"dstport", fDstPort, 2},
	{"protocol", fProtocol, 2},
	{"packets", fPackets, 2},
	{"bytes", fBytes, 2},
	{"start", fStart, 2},
	{"end", fEnd, 2},
	{"action", fAction, 2},
	{"log-status", fLogStatus, 2},
	{"vpc-id", fVPCID, 3},
	{"subnet-id", fSubnetID, 3},
	{"instance-id", fInstanceID, 3},
	{"tcp-flags", fTCPFlags, 3},
	{"type", fType, 3},
	{"pkt-srcaddr", fPktSrcAddr, 3},
	{"pkt-dstaddr", fPktDstAddr, 3},
	{"region", fRegion, 4},
	{"az-id", fAZID, 4},
	{"sublocation-type", fSublocationType, 4},
	{"sublocation-id", fSublocationID, 4},
	{"pkt-src-aws-service", fPktSrcAWSService, 5},
	{"pkt-dst-aws-service", fPktDstAWSService, 5},
	{"flow-direction", fFlowDirection, 5},
	{"traffic-path", fTrafficPath, 5},
	{"ecs-cluster-arn", fECSClusterARN, 7},
	{"ecs-cluster-name", fECSClusterName, 7},
	{"ecs-container-instance-arn", fECSContainerInstanceARN, 7},
	{"ecs-container-instance-id", fECSContainerInstanceID, 7},
	{"ecs-container-id", fECSContainerID, 7},
	{"ecs-second-container-id", fECSSecondContainerID, 7},
	{"ecs-service-name", fECSServiceName, 7},
	{"ecs-task-definition-arn", fECSTaskDefinitionARN, 7},
	{"ecs-task-arn", fECSTaskARN, 7},
	{"ecs-task-id", fECSTaskID, 7},
	{"reject-reason", fRejectReason, 8},
}

// transitGateway lists the transit gateway flow-log fields (format version
// 6). They are kept by name in event.Flow.Extra.
var transitGateway = []string{
	"resource-type", "tgw-id", "tgw-attachment-id", "tgw-src-vpc-account-id",
	"tgw-dst-vpc-account-id", "tgw-src-vpc-id", "tgw-dst-vpc-id", "tgw-src-subnet-id",
	"tgw-dst-subnet-id", "tgw-src-eni", "tgw-dst-eni", "tgw-src-az-id", "tgw-dst-az-id",
	"tgw-pair-attachment-id", "packets-lost-no-route", "packets-lost-blackhole",
	"packets-lost-mtu-exceeded", "packets-lost-ttl-expired",
}

var byName = func() map[string]field {
	m := make(map[string]field, len(documented)+len(transitGateway))
	for _, d := range documented {
		m[d.name] = d.f
	}
	for _, n := range transitGateway {
		m[n] = fUnknown
	}
	return m
}()

// Format is the field layout of a flow-log file. It is immutable and safe
// for concurrent use.
type Format struct {
	names  []string
	fields []field
	// Header reports whether the layout came from a header line.
	Header bool
}

// Names returns the field names in order.
func (f *Format) Names() []string { return f.names }

// Len returns the number of fields.
func (f *Format) Len() int { return len(f.fields) }

func newFormat(names []string, header bool) *Format {
	f := &Format{names: names, fields: make([]field, len(names)), Header: header}
	for i, n := range names {
		f.fields[i] = byName[n]
	}
	return f
}

// Default is the default flow-log format: the 14 version 2 fields.
var Default = Positional(14)

// Positional returns the format of a headerless record with n fields when n
// is the number of fields up to and including some version in the
// documented order (14, 21, 25, 29, 39 or 40), and nil otherwise.
func Positional(n int) *Format {
	if n <= 0 || n > len(documented) {
		return nil
	}
	if n < len(documented) && documented[n].version == documented[n-1].version {
		return nil // n cuts a version in half
	}
	names := make([]string, n)
	for i := range names {
		names[i] = documented[i].name
	}
	return newFormat(names, false)
}

// ParseHeader reads a header line such as "version account-id ...". It
// returns an error when the line is not a header: a header has only field
// names, no name twice, and at most a quarter of names Vigil does not know
// (room for fields AWS adds later, not for a line of prose).
func ParseHeader(line []byte) (*Format, error) {
	toks := bytes.Fields(line)
	if len(toks) == 0 {
		return nil, fmt.Errorf("flowlog: empty header")
	}
	names := make([]string, len(toks))
	seen := make(map[string]bool, len(toks))
	known := 0
	for i, t := range toks {
		if !isFieldName(t) {
			return nil, fmt.Errorf("flowlog: header token %q is not a field name", t)
		}
		n := string(t)
		if seen[n] {
			return nil, fmt.Errorf("flowlog: header names field %q twice", n)
		}
		seen[n] = true
		if _, ok := byName[n]; ok {
			known++
		}
		names[i] = n
	}
	if unknown := len(names) - known; known == 0 || 4*unknown > len(names) {
		return nil, fmt.Errorf("flowlog: header names %d unknown fields of %d", unknown, len(names))
	}
	return newFormat(names, true), nil
}

// LooksLikeHeader reports whether line is plausibly a flow-log header.
func LooksLikeHeader(line []byte) bool {
	_, err := ParseHeader(line)
	return err == nil
}

func isFieldName(t []byte) bool {
	if len(t) == 0 || t[0] < 'a' || t[0] > 'z' {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// String returns the format as a header line.
func (f *Format) String() string { return strings.Join(f.names, " ") }
