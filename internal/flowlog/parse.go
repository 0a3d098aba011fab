package flowlog

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"time"
	"unsafe"

	"github.com/vigil-sec/vigil/internal/event"
)

// Service is the Event.Service of flow-log events.
const Service = "vpc-flow-logs"

// Hint carries what a record does not say about itself but its container
// does, such as the region in an S3 object name.
type Hint struct {
	Region string
}

var regionInName = regexp.MustCompile(`_vpcflowlogs_([a-z]{2}(?:-[a-z]+)+-\d+)_`)

// HintFromName derives a Hint from an S3 object or file name as VPC Flow
// Logs names them (ACCOUNT_vpcflowlogs_REGION_FLOWLOGID_TIME_HASH.log.gz).
func HintFromName(name string) Hint {
	if m := regionInName.FindStringSubmatch(name); m != nil {
		return Hint{Region: m[1]}
	}
	return Hint{}
}

// maxFields bounds the fields of one record; the documented formats have
// at most 58.
const maxFields = 128

// Parse decodes one record line laid out as f. line must not be modified
// afterwards: the event's strings alias it.
func (f *Format) Parse(line []byte, hint Hint) (*event.Event, error) {
	var buf [maxFields][]byte
	toks := buf[:0]
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if len(toks) == maxFields {
			return nil, event.FieldErr("record", "more than %d fields", maxFields)
		}
		toks = append(toks, line[i:j])
		i = j
	}
	if len(toks) != len(f.fields) {
		return nil, event.FieldErr("record", "has %d fields, the format has %d (%s)", len(toks), len(f.fields), abbreviate(f.String()))
	}
	fl := &event.Flow{SrcPort: -1, DstPort: -1, Protocol: -1, Packets: -1, Bytes: -1, TCPFlags: -1, TrafficPath: -1}
	ev := &event.Event{Kind: event.KindFlowLog, Service: Service, Flow: fl, Raw: line, Record: line, Region: hint.Region}
	for i, t := range toks {
		if len(t) == 1 && t[0] == '-' {
			continue
		}
		s := alias(t)
		var err error
		switch f.fields[i] {
		case fVersion:
			var v int64
			v, err = parseInt(s, 1, 100)
			fl.Version = int(v)
		case fAccountID:
			ev.Account = s
		case fInterfaceID:
			fl.InterfaceID = s
		case fSrcAddr:
			fl.SrcAddr, err = parseAddr(s)
		case fDstAddr:
			fl.DstAddr, err = parseAddr(s)
		case fSrcPort:
			fl.SrcPort, err = parseInt32(s, 0, 65535)
		case fDstPort:
			fl.DstPort, err = parseInt32(s, 0, 65535)
		case fProtocol:
			var v int64
			v, err = parseInt(s, 0, 255)
			fl.Protocol = int16(v)
		case fPackets:
			fl.Packets, err = parseInt(s, 0, 1<<62)
		case fBytes:
			fl.Bytes, err = parseInt(s, 0, 1<<62)
		case fStart:
			fl.Start, err = parseInt(s, 0, 1<<40)
		case fEnd:
			fl.End, err = parseInt(s, 0, 1<<40)
		case fAction:
			fl.Action = s
		case fLogStatus:
			fl.LogStatus = s
		case fVPCID:
			fl.VPCID = s
		case fSubnetID:
			fl.SubnetID = s
		case fInstanceID:
			fl.InstanceID = s
		case fTCPFlags:
			fl.TCPFlags, err = parseInt32(s, 0, 1<<16)
		case fType:
			fl.Type = s
		case fPktSrcAddr:
			fl.PktSrcAddr, err = parseAddr(s)
		case fPktDstAddr:
			fl.PktDstAddr, err = parseAddr(s)
		case fRegion:
			fl.Region = s
			ev.Region = s
		case fAZID:
			fl.AZID = s
		case fSublocationType:
			fl.SublocationType = s
		case fSublocationID:
			fl.SublocationID = s
		case fPktSrcAWSService:
			fl.PktSrcAWSService = s
		case fPktDstAWSService:
			fl.PktDstAWSService = s
		case fFlowDirection:
			fl.FlowDirection = s
		case fTrafficPath:
			fl.TrafficPath, err = parseInt32(s, 0, 100)
		case fECSClusterARN:
			fl.ECSClusterARN = s
		case fECSClusterName:
			fl.ECSClusterName = s
		case fECSContainerInstanceARN:
			fl.ECSContainerInstanceARN = s
		case fECSContainerInstanceID:
			fl.ECSContainerInstanceID = s
		case fECSContainerID:
			fl.ECSContainerID = s
		case fECSSecondContainerID:
			fl.ECSSecondContainerID = s
		case fECSServiceName:
			fl.ECSServiceName = s
		case fECSTaskDefinitionARN:
			fl.ECSTaskDefinitionARN = s
		case fECSTaskARN:
			fl.ECSTaskARN = s
		case fECSTaskID:
			fl.ECSTaskID = s
		case fRejectReason:
			fl.RejectReason = s
		default:
			if fl.Extra == nil {
				fl.Extra = make(map[string]string)
			}
			fl.Extra[f.names[i]] = s
		}
		if err != nil {
			return nil, &event.FieldError{Field: f.names[i], Err: err}
		}
	}
	ev.Action = fl.Action
	ev.SourceIP = fl.SrcAddr
	if fl.SrcAddr.IsValid() {
		ev.SourceAddress = fl.SrcAddr.String()
	}
	if fl.Start > 0 {
		ev.Time = time.Unix(fl.Start, 0).UTC()
	}
	if fl.InterfaceID != "" {
		r := event.Resource{Type: "AWS::EC2::NetworkInterface", Account: ev.Account}
		if ev.Region != "" && ev.Account != "" {
			r.ARN = "arn:aws:ec2:" + ev.Region + ":" + ev.Account + ":network-interface/" + fl.InterfaceID
		}
		ev.Resources = []event.Resource{r}
	}
	return ev, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("not an IP address: %q", s)
	}
	return a.Unmap(), nil
}

func parseInt(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("not an integer in [%d, %d]: %q", lo, hi, s)
	}
	return n, nil
}

func parseInt32(s string, lo, hi int64) (int32, error) {
	n, err := parseInt(s, lo, hi)
	return int32(n), err
}

func alias(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func abbreviate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
