package event

import "net/netip"

// Flow is one VPC Flow Logs record, with every field of format versions 2 to
// 8 that the record carries. Fields the log format leaves out, or that hold
// "-", are zero. Numeric fields that may be absent use -1 for "absent".
type Flow struct {
	Version     int        `json:"version,omitempty"`
	InterfaceID string     `json:"interface_id,omitempty"`
	SrcAddr     netip.Addr `json:"srcaddr,omitzero"`
	DstAddr     netip.Addr `json:"dstaddr,omitzero"`
	SrcPort     int32      `json:"srcport"` // -1 when absent
	DstPort     int32      `json:"dstport"` // -1 when absent
	// Protocol is the IANA protocol number (6 TCP, 17 UDP, 1 ICMP), -1 when absent.
	Protocol  int16  `json:"protocol"`
	Packets   int64  `json:"packets"` // -1 when absent
	Bytes     int64  `json:"bytes"`   // -1 when absent
	Start     int64  `json:"start"`   // Unix seconds, 0 when absent
	End       int64  `json:"end"`     // Unix seconds, 0 when absent
	Action    string `json:"action,omitempty"`
	LogStatus string `json:"log_status,omitempty"`

	// Version 3.
	VPCID      string     `json:"vpc_id,omitempty"`
	SubnetID   string     `json:"subnet_id,omitempty"`
	InstanceID string     `json:"instance_id,omitempty"`
	TCPFlags   int32      `json:"tcp_flags"` // -1 when absent
	Type       string     `json:"type,omitempty"`
	PktSrcAddr netip.Addr `json:"pkt_srcaddr,omitzero"`
	PktDstAddr netip.Addr `json:"pkt_dstaddr,omitzero"`

	// Version 4.
	Region          string `json:"region,omitempty"`
	AZID            string `json:"az_id,omitempty"`
	SublocationType string `json:"sublocation_type,omitempty"`
	SublocationID   string `json:"sublocation_id,omitempty"`

	// Version 5.
	PktSrcAWSService string `json:"pkt_src_aws_service,omitempty"`
	PktDstAWSService string `json:"pkt_dst_aws_service,omitempty"`
	FlowDirection    string `json:"flow_direction,omitempty"`
	TrafficPath      int32  `json:"traffic_path"` // -1 when absent

	// Version 7 (ECS).
	ECSClusterARN           string `json:"ecs_cluster_arn,omitempty"`
	ECSClusterName          string `json:"ecs_cluster_name,omitempty"`
	ECSContainerInstanceARN string `json:"ecs_container_instance_arn,omitempty"`
	ECSContainerInstanceID  string `json:"ecs_container_instance_id,omitempty"`
	ECSContainerID          string `json:"ecs_container_id,omitempty"`
	ECSSecondContainerID    string `json:"ecs_second_container_id,omitempty"`
	ECSServiceName          string `json:"ecs_service_name,omitempty"`
	ECSTaskDefinitionARN    string `json:"ecs_task_definition_arn,omitempty"`
	ECSTaskARN              string `json:"ecs_task_arn,omitempty"`
	ECSTaskID               string `json:"ecs_task_id,omitempty"`

	// Version 8.
	RejectReason string `json:"reject_reason,omitempty"`

	// Extra holds fields this version of Vigil does not model (transit
	// gateway flow-log fields, future additions), by their header name.
	Extra map[string]string `json:"extra,omitempty"`
}
