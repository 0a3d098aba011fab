package pattern

import (
	"testing"
)

// Events from the EventBridge User Guide and the event-ruler README, used by
// many rows below.
const (
	// AWS docs: Amazon EventBridge event patterns.
	ec2Event = `{
	  "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
	  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
	  "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1",
	  "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
	  "detail": {"instance-id": "i-1234567890abcdef0", "state": "terminated"}}`

	// AWS docs: Matching null values and empty strings.
	autoscalingEvent = `{
	  "version": "0", "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
	  "detail-type": "EC2 Instance Launch Successful", "source": "aws.autoscaling",
	  "account": "123456789012", "time": "2015-11-11T21:31:47Z", "region": "us-east-1",
	  "resources": [], "detail": {"eventVersion": "", "responseElements": null}}`

	// AWS docs: Amazon EventBridge event patterns (the Macie example,
	// truncated there; completed here).
	macieEvent = `{
	  "version": "0", "id": "3e355723-fca9-4de3-9fd7-154c289d6b59", "detail-type": "Macie Alert",
	  "source": "aws.macie", "account": "123456789012", "time": "2017-04-24T22:28:49Z", "region": "us-east-1",
	  "resources": ["arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id",
	                "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id"],
	  "detail": {"notification-type": "ALERT_CREATED", "name": "Scanning bucket policies",
	    "tags": ["Custom_Alert", "Insider"], "risk-score": 80,
	    "trigger": {"rule-arn": "arn:aws:macie:us-east-1:123456789012:trigger/trigger_id", "alert-type": "basic", "risk": 8}}}`

	// The event of the Content filtering examples (as in the event-ruler README).
	stateEvent = `{
	  "version": "0", "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
	  "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2",
	  "account": "012345679012", "time": "2017-10-02T16:24:49Z", "region": "us-east-1",
	  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
	  "detail": {"c-count": 5, "d-count": 3, "x-limit": 301.8, "source-ip": "10.0.0.33",
	    "instance-id": "i-000000aaaaaa00000", "state": "running"}}`

	// event-ruler README, JSON array matching.
	employeesEvent = `{"employees": [
	  {"firstName": "John", "lastName": "Doe"},
	  {"firstName": "Anna", "lastName": "Smith"},
	  {"firstName": "Peter", "lastName": "Jones"}]}`
)

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

var matchCases = []matchCase{
	// Exact matching of strings.
	// AWS docs: Amazon EventBridge event patterns
	{"docs ec2 terminated", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["terminated"]}}`, ec2Event, true},
	// AWS docs: Amazon EventBridge event patterns (match values)
	{"docs source list", `{"source":["aws.ec2","aws.fargate"]}`, ec2Event, true},
	{"source list no hit", `{"source":["aws.s3","aws.fargate"]}`, ec2Event, false},
	{"state mismatch", `{"source":["aws.ec2"],"detail":{"state":["running"]}}`, ec2Event, false},
	{"case sensitive", `{"source":["AWS.EC2"]}`, ec2Event, false},
	{"no normalization", `{"source":["aws.ec2 "]}`, ec2Event, false},
	{"field missing", `{"detail":{"reason":["x"]}}`, ec2Event, false},
	{"nesting must match", `{"state":["terminated"]}`, ec2Event, false},
	{"nested object given a list", `{"detail":["terminated"]}`, ec2Event, false},
	{"all fields ANDed", `{"source":["aws.ec2"],"region":["us-east-1"]}`, ec2Event, false},
	{"unicode string", `{"a":["héllo"]}`, `{"a":"héllo"}`, true},
	{"escaped event string", `{"a":["a\"b"]}`, `{"a":"a\u0022b"}`, true},
	{"escaped pattern string", `{"a":["\u00e9"]}`, `{"a":"é"}`, true},
	{"string not number", `{"a":["5"]}`, `{"a":5}`, false},
	{"string not true", `{"a":["true"]}`, `{"a":true}`, false},
	{"string not null", `{"a":["null"]}`, `{"a":null}`, false},
	{"long list uses set", `{"a":["a","b","c","d","e","f","g","h","i","j","k"]}`, `{"a":"j"}`, true},
	{"long list miss", `{"a":["a","b","c","d","e","f","g","h","i","j","k"]}`, `{"a":"z"}`, false},
	{"dotted key is one key", `{"a.b":["x"]}`, `{"a":{"b":"x"}}`, false},
	{"dotted key literal", `{"a.b":["x"]}`, `{"a.b":"x"}`, true},

	// Null values and empty strings.
	// AWS docs: Matching null values and empty strings
	{"docs empty string", `{"detail":{"eventVersion":[""]}}`, autoscalingEvent, true},
	// AWS docs: Matching null values and empty strings
	{"docs null", `{"detail":{"responseElements":[null]}}`, autoscalingEvent, true},
	// AWS docs: Amazon EventBridge event patterns (field matching)
	{"docs null with source", `{"source":["aws.autoscaling"],"detail-type":["EC2 Instance Launch Successful"],"detail":{"responseElements":[null]}}`, autoscalingEvent, true},
	// AWS docs: Matching null values and empty strings (not interchangeable)
	{"docs empty string is not null", `{"detail":{"responseElements":[""]}}`, autoscalingEvent, false},
	{"null is not empty string", `{"detail":{"eventVersion":[null]}}`, autoscalingEvent, false},
	{"null needs the field", `{"detail":{"other":[null]}}`, autoscalingEvent, false},
	{"null vs empty array", `{"resources":[null]}`, autoscalingEvent, false},
	{"empty string vs empty array", `{"resources":[""]}`, autoscalingEvent, false},

	// Booleans.
	{"true", `{"a":[true]}`, `{"a":true}`, true},
	{"false", `{"a":[false]}`, `{"a":false}`, true},
	{"true vs false", `{"a":[true]}`, `{"a":false}`, false},
	{"true vs string", `{"a":[true]}`, `{"a":"true"}`, false},
	{"bool list", `{"a":[true,false]}`, `{"a":false}`, true},

	// Numbers.
	// AWS docs: Amazon EventBridge event patterns (value matching)
	{"docs macie numbers", `{"source":["aws.macie"],"detail-type":["Macie Alert"],"detail":{"risk-score":[80],"trigger":{"risk":[8]}}}`, macieEvent, true},
	{"macie risk mismatch", `{"detail":{"risk-score":[81]}}`, macieEvent, false},
	{"300 equals 300.0", `{"a":[300]}`, `{"a":300.0}`, true},
	{"300 equals 3e2", `{"a":[300]}`, `{"a":3e2}`, true},
	{"3.0e2 equals 300", `{"a":[3.0e2]}`, `{"a":300}`, true},
	{"300.0 equals 3E+2", `{"a":[300.0]}`, `{"a":3E+2}`, true},
	{"-0 equals 0", `{"a":[-0]}`, `{"a":0}`, true},
	{"number not string", `{"a":[300]}`, `{"a":"300"}`, false},
	{"number mismatch", `{"a":[300]}`, `{"a":301}`, false},
	{"decimals", `{"a":[0.1]}`, `{"a":0.10}`, true},
	{"six decimal places", `{"a":[1]}`, `{"a":1.0000001}`, true},
	{"sixth decimal counts", `{"a":[1]}`, `{"a":1.00001}`, false},
	{"range edge 5e9", `{"a":[5000000000]}`, `{"a":5e9}`, true},
	{"account id as written", `{"a":[123456789012]}`, `{"a":123456789012}`, true},
	{"beyond range only as written", `{"a":[123456789012]}`, `{"a":1.23456789012e11}`, false},
	{"number in array", `{"a":[2]}`, `{"a":[1,2,3]}`, true},

	// Arrays.
	// AWS docs: Arrays in Amazon EventBridge event patterns
	{"docs array intersection", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f","arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
	{"array no intersection", `{"resources":["x","y"]}`, `{"resources":["a","b"]}`, false},
	{"docs macie tags", `{"detail":{"tags":["Insider"]}}`, macieEvent, true},
	// event-ruler README: JSON array matching
	{"array of objects", `{"employees":{"firstName":["Anna"]}}`, employeesEvent, true},
	{"array of objects miss", `{"employees":{"firstName":["Mary"]}}`, employeesEvent, false},
	{"nested arrays", `{"employees":{"firstName":["Peter"]}}`, `{"employees":[[{"firstName":"John"}],[{"firstName":"Peter"}]]}`, true},
	{"array of arrays of strings", `{"a":["z"]}`, `{"a":[["x"],["y",["z"]]]}`, true},
	// Deliberate deviation (doc.go): fields in different elements of one
	// array are matched independently.
	{"fields across elements", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, employeesEvent, true},
	{"mixed array null", `{"a":[null]}`, `{"a":["x",5,null]}`, true},
	{"empty event array", `{"a":["x"]}`, `{"a":[]}`, false},
	{"array of objects is not a value", `{"a":["x"]}`, `{"a":[{"b":"x"}]}`, false},
	{"object is not a value", `{"a":["x"]}`, `{"a":{"b":"x"}}`, false},

	// Prefix.
	// AWS docs: Content filtering in Amazon EventBridge event patterns (prefix matching)
	{"docs prefix time", `{"time":[{"prefix":"2017-10-02"}]}`, stateEvent, true},
	{"prefix miss", `{"time":[{"prefix":"2017-10-03"}]}`, stateEvent, false},
	// AWS docs: Comparison operators (begins with)
	{"docs prefix region", `{"Region":[{"prefix":"us-"}]}`, `{"Region":"us-east-1"}`, true},
	{"prefix region other", `{"Region":[{"prefix":"us-"}]}`, `{"Region":"eu-west-1"}`, false},
	{"prefix case sensitive", `{"region":[{"prefix":"US-"}]}`, stateEvent, false},
	{"prefix longer than value", `{"a":[{"prefix":"abcd"}]}`, `{"a":"abc"}`, false},
	{"prefix whole value", `{"a":[{"prefix":"abc"}]}`, `{"a":"abc"}`, true},
	{"prefix empty", `{"a":[{"prefix":""}]}`, `{"a":"x"}`, true},
	{"prefix not on numbers", `{"a":[{"prefix":"1"}]}`, `{"a":123}`, false},
	{"prefix not on null", `{"a":[{"prefix":"n"}]}`, `{"a":null}`, false},
	{"prefix in array", `{"a":[{"prefix":"arn:aws:s3"}]}`, `{"a":["arn:aws:ec2:x","arn:aws:s3:::b"]}`, true},
	{"prefix with exact", `{"a":["x",{"prefix":"ab"}]}`, `{"a":"abc"}`, true},
	// AWS docs: Content filtering (prefix matching while ignoring case)
	{"docs prefix ignore case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"eventbridge"}}`, true},
	{"docs prefix ignore case upper", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"EVENTBRIDGE"}}`, true},
	{"prefix ignore case miss", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"Event"}}`, false},
	{"prefix ignore case unicode", `{"a":[{"prefix":{"equals-ignore-case":"ÉT"}}]}`, `{"a":"été"}`, true},
	{"prefix ignore case not numbers", `{"a":[{"prefix":{"equals-ignore-case":"1"}}]}`, `{"a":12}`, false},

	// Suffix.
	// AWS docs: Content filtering (suffix matching)
	{"docs suffix png", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
	{"suffix case sensitive", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
	// AWS docs: Content filtering (suffix matching while ignoring case)
	{"docs suffix ignore case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, `{"detail":{"FileName":"IMAGE.PNG"}}`, true},
	{"suffix ignore case miss", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, `{"detail":{"FileName":"image.gif"}}`, false},
	// event-ruler README: suffix matching
	{"suffix source", `{"source":[{"suffix":"ec2"}]}`, stateEvent, true},
	{"suffix not on numbers", `{"a":[{"suffix":"3"}]}`, `{"a":123}`, false},
	{"suffix ignore case unicode", `{"a":[{"suffix":{"equals-ignore-case":"ÇA"}}]}`, `{"a":"voilà ça"}`, true},
	{"suffix longer than value", `{"a":[{"suffix":{"equals-ignore-case":"xabc"}}]}`, `{"a":"abc"}`, false},

	// Equals-ignore-case.
	// AWS docs: Comparison operators (equals, ignore case)
	{"docs ignore case", `{"name":[{"equals-ignore-case":"alice"}]}`, `{"name":"Alice"}`, true},
	{"ignore case source", `{"source":[{"equals-ignore-case":"AWS.EC2"}]}`, stateEvent, true},
	{"ignore case mixed", `{"a":[{"equals-ignore-case":"eXaMpLe"}]}`, `{"a":"ExAmPlE"}`, true},
	{"ignore case miss", `{"a":[{"equals-ignore-case":"example"}]}`, `{"a":"examples"}`, false},
	{"ignore case not number", `{"a":[{"equals-ignore-case":"5"}]}`, `{"a":5}`, false},
	{"ignore case unicode", `{"a":[{"equals-ignore-case":"ÀB"}]}`, `{"a":"àb"}`, true},

	// Wildcard.
	// event-ruler README: wildcard matching
	{"wildcard middle", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleQueueService"}`, true},
	{"wildcard empty run", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleService"}`, true},
	{"wildcard case sensitive", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"simpleQueueService"}`, false},
	{"wildcard anchored", `{"source":[{"wildcard":"Simple*Service"}]}`, `{"source":"SimpleQueueServices"}`, false},
	// AWS docs: Comparison operators (wildcard)
	{"docs wildcard arn", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}`, true},
	{"wildcard arn other region", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`, `{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/default"}`, false},
	{"wildcard star alone", `{"a":[{"wildcard":"*"}]}`, `{"a":""}`, true},
	{"wildcard star any", `{"a":[{"wildcard":"*"}]}`, `{"a":"anything"}`, true},
	{"wildcard not number", `{"a":[{"wildcard":"*"}]}`, `{"a":5}`, false},
	{"wildcard not null", `{"a":[{"wildcard":"*"}]}`, `{"a":null}`, false},
	{"wildcard three parts", `{"a":[{"wildcard":"a*b*c"}]}`, `{"a":"abc"}`, true},
	{"wildcard three parts spread", `{"a":[{"wildcard":"a*b*c"}]}`, `{"a":"aXXbYYc"}`, true},
	{"wildcard order matters", `{"a":[{"wildcard":"a*b*c"}]}`, `{"a":"acb"}`, false},
	{"wildcard no overlap", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
	{"wildcard adjacent", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"abba"}`, true},
	{"wildcard leading", `{"a":[{"wildcard":"*.png"}]}`, `{"a":"x.png"}`, true},
	{"wildcard trailing", `{"a":[{"wildcard":"img*"}]}`, `{"a":"img"}`, true},
	{"wildcard no star is exact", `{"a":[{"wildcard":"abc"}]}`, `{"a":"abcd"}`, false},
	{"wildcard escaped star", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"a*b"}`, true},
	{"wildcard escaped star literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
	{"wildcard escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
	{"wildcard escaped backslash miss", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"abc"}`, false},
	{"wildcard escaped star then star", `{"a":[{"wildcard":"\\**"}]}`, `{"a":"*x"}`, true},
	{"wildcard escaped star then star miss", `{"a":[{"wildcard":"\\**"}]}`, `{"a":"x*"}`, false},

	// Anything-but.
	// AWS docs: Content filtering (anything-but matching)
	{"docs anything-but string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, stateEvent, true},
	{"anything-but string excluded", `{"detail":{"state":[{"anything-but":"running"}]}}`, stateEvent, false},
	// AWS docs: Content filtering (anything-but matching)
	{"docs anything-but number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, stateEvent, true},
	{"anything-but number excluded", `{"detail":{"x-limit":[{"anything-but":301.8}]}}`, stateEvent, false},
	{"anything-but number by value", `{"a":[{"anything-but":300}]}`, `{"a":3e2}`, false},
	{"anything-but number vs string", `{"a":[{"anything-but":123}]}`, `{"a":"123"}`, true},
	{"anything-but string vs number", `{"a":[{"anything-but":"123"}]}`, `{"a":123}`, true},
	// AWS docs: Content filtering (anything-but matching, list of strings)
	{"docs anything-but list", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, stateEvent, true},
	{"anything-but list excluded", `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, stateEvent, false},
	// AWS docs: Content filtering (anything-but matching, list of numbers)
	{"docs anything-but number list", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, stateEvent, true},
	{"anything-but number list excluded", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, `{"detail":{"x-limit":2e2}}`, false},
	{"anything-but missing field", `{"detail":{"nothing":[{"anything-but":"x"}]}}`, stateEvent, false},
	{"anything-but null value", `{"a":[{"anything-but":"x"}]}`, `{"a":null}`, true},
	{"anything-but bool value", `{"a":[{"anything-but":[1,2]}]}`, `{"a":true}`, true},
	{"anything-but object value", `{"a":[{"anything-but":"x"}]}`, `{"a":{"b":"y"}}`, false},
	{"anything-but empty event array", `{"a":[{"anything-but":"x"}]}`, `{"a":[]}`, false},
	{"anything-but some element", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
	{"anything-but every element excluded", `{"a":[{"anything-but":["x","y"]}]}`, `{"a":["x","y"]}`, false},
	{"anything-but number beyond range", `{"a":[{"anything-but":[1]}]}`, `{"a":6e9}`, true},
	// AWS docs: Content filtering (anything-but prefix)
	{"docs anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, stateEvent, true},
	{"anything-but prefix excluded", `{"detail":{"state":[{"anything-but":{"prefix":"run"}}]}}`, stateEvent, false},
	// AWS docs: Comparison operators (anything-but, begins with)
	{"docs anything-but prefix region", `{"Region":[{"anything-but":{"prefix":"us-"}}]}`, `{"Region":"us-east-1"}`, false},
	{"anything-but prefix list", `{"Region":[{"anything-but":{"prefix":["us-","eu-"]}}]}`, `{"Region":"ap-south-1"}`, true},
	{"anything-but prefix list excluded", `{"Region":[{"anything-but":{"prefix":["us-","eu-"]}}]}`, `{"Region":"eu-west-1"}`, false},
	{"anything-but prefix number", `{"a":[{"anything-but":{"prefix":"1"}}]}`, `{"a":123}`, true},
	{"anything-but prefix null", `{"a":[{"anything-but":{"prefix":"n"}}]}`, `{"a":null}`, true},
	{"anything-but prefix missing", `{"a":[{"anything-but":{"prefix":"n"}}]}`, `{"b":1}`, false},
	// AWS docs: Comparison operators (anything-but, ends with)
	{"docs anything-but suffix", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.png"}`, false},
	{"anything-but suffix other", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.jpg"}`, true},
	// AWS docs: Comparison operators (anything-but, ignore case)
	{"docs anything-but ignore case", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"INITIALIZING"}`, false},
	{"anything-but ignore case other", `{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}`, `{"state":"running"}`, true},
	{"anything-but ignore case list", `{"state":[{"anything-but":{"equals-ignore-case":["a","B"]}}]}`, `{"state":"b"}`, false},
	{"anything-but ignore case null", `{"state":[{"anything-but":{"equals-ignore-case":"null"}}]}`, `{"state":null}`, true},
	// AWS docs: Comparison operators (anything-but using a wildcard)
	{"docs anything-but wildcard", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/libc.so"}`, false},
	{"anything-but wildcard other", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/ls"}`, true},
	{"anything-but wildcard list", `{"FilePath":[{"anything-but":{"wildcard":["*/lib/*","*/bin/*"]}}]}`, `{"FilePath":"/usr/bin/ls"}`, false},
	{"anything-but wildcard number", `{"a":[{"anything-but":{"wildcard":"*"}}]}`, `{"a":5}`, true},

	// Numeric.
	// AWS docs: Content filtering (numeric matching)
	{"docs numeric", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, stateEvent, true},
	{"numeric gt 0 with 0", `{"a":[{"numeric":[">",0]}]}`, `{"a":0}`, false},
	{"numeric ge 0 with 0", `{"a":[{"numeric":[">=",0]}]}`, `{"a":0}`, true},
	{"numeric le 5 with 5", `{"a":[{"numeric":["<=",5]}]}`, `{"a":5}`, true},
	{"numeric lt 5 with 5", `{"a":[{"numeric":["<",5]}]}`, `{"a":5}`, false},
	{"numeric lt 5 with 4.999999", `{"a":[{"numeric":["<",5]}]}`, `{"a":4.999999}`, true},
	{"numeric eq", `{"a":[{"numeric":["=",5]}]}`, `{"a":5.0}`, true},
	{"numeric eq miss", `{"a":[{"numeric":["=",5]}]}`, `{"a":5.5}`, false},
	{"numeric range inside", `{"a":[{"numeric":[">=",10,"<",20]}]}`, `{"a":15}`, true},
	{"numeric range top", `{"a":[{"numeric":[">=",10,"<",20]}]}`, `{"a":20}`, false},
	{"numeric range bottom", `{"a":[{"numeric":[">=",10,"<",20]}]}`, `{"a":10}`, true},
	{"numeric negative", `{"a":[{"numeric":["<",-1.5]}]}`, `{"a":-2}`, true},
	{"numeric not strings", `{"a":[{"numeric":[">",0]}]}`, `{"a":"5"}`, false},
	{"numeric not null", `{"a":[{"numeric":[">",-1]}]}`, `{"a":null}`, false},
	{"numeric not bool", `{"a":[{"numeric":[">",-1]}]}`, `{"a":true}`, false},
	{"numeric missing", `{"a":[{"numeric":[">",-1]}]}`, `{"b":1}`, false},
	{"numeric beyond range", `{"a":[{"numeric":[">",0]}]}`, `{"a":6e9}`, false},
	{"numeric below range", `{"a":[{"numeric":["<",0]}]}`, `{"a":-6e9}`, false},
	{"numeric at range edge", `{"a":[{"numeric":["<=",5e9]}]}`, `{"a":5000000000}`, true},
	{"numeric six decimals", `{"a":[{"numeric":["=",0]}]}`, `{"a":0.0000001}`, true},
	{"numeric array element", `{"a":[{"numeric":[">",5]}]}`, `{"a":[1,10]}`, true},
	{"numeric array none", `{"a":[{"numeric":[">",50]}]}`, `{"a":[1,10]}`, false},
	{"numeric or exact", `{"a":[{"numeric":[">",50]},"x"]}`, `{"a":"x"}`, true},

	// Exists.
	// AWS docs: Content filtering (exists matching)
	{"docs exists false missing", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],"detail":{"state":["initializing","running"]}}`, true},
	// AWS docs: Content filtering (exists matching: c-count is not a leaf)
	{"docs exists false object", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail-type":["EC2 Instance State-change Notification"],"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-02ebd4584a2ebd341"],"detail":{"state":["initializing","running"],"c-count":{"c1":100}}}`, true},
	{"exists false present", `{"detail":{"c-count":[{"exists":false}]}}`, stateEvent, false},
	// event-ruler README: exists matching
	{"exists true present", `{"detail":{"c-count":[{"exists":true}]}}`, stateEvent, true},
	{"exists true missing", `{"detail":{"nothing":[{"exists":true}]}}`, stateEvent, false},
	{"exists true object", `{"a":[{"exists":true}]}`, `{"a":{"b":1}}`, false},
	{"exists true null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists false null", `{"a":[{"exists":false}]}`, `{"a":null}`, false},
	{"exists true empty string", `{"a":[{"exists":true}]}`, `{"a":""}`, true},
	{"exists true empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
	{"exists false empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"exists true array", `{"a":[{"exists":true}]}`, `{"a":["x"]}`, true},
	{"exists true array of objects", `{"a":[{"exists":true}]}`, `{"a":[{"b":1}]}`, false},
	{"exists false array of objects", `{"a":[{"exists":false}]}`, `{"a":[{"b":1}]}`, true},
	{"exists true through array", `{"a":{"b":[{"exists":true}]}}`, `{"a":[{"c":1},{"b":2}]}`, true},
	{"exists false through array", `{"a":{"b":[{"exists":false}]}}`, `{"a":[{"c":1},{"b":2}]}`, false},
	{"exists false parent missing", `{"a":{"b":[{"exists":false}]}}`, `{"c":1}`, true},
	{"exists false parent scalar", `{"a":{"b":[{"exists":false}]}}`, `{"a":"x"}`, true},
	{"exists true parent scalar", `{"a":{"b":[{"exists":true}]}}`, `{"a":"x"}`, false},
	{"exists false or value absent", `{"a":[{"exists":false},"x"]}`, `{"b":1}`, true},
	{"exists false or value present", `{"a":[{"exists":false},"x"]}`, `{"a":"x"}`, true},
	{"exists false or value other", `{"a":[{"exists":false},"x"]}`, `{"a":"y"}`, false},
	{"exists false or prefix", `{"a":[{"exists":false},{"prefix":"x"}]}`, `{"a":"xy"}`, true},
	{"exists false and other field", `{"source":["aws.ec2"],"detail":{"error":[{"exists":false}]}}`, stateEvent, true},
	{"exists false and other field miss", `{"source":["aws.s3"],"detail":{"error":[{"exists":false}]}}`, stateEvent, false},
	{"exists true or false", `{"a":[{"exists":true},{"exists":false}]}`, `{"b":1}`, true},

	// CIDR and IP addresses.
	// AWS docs: Content filtering (IP address matching)
	{"docs cidr", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.0.255"}}`, true},
	{"cidr outside", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/24"}]}}`, `{"detail":{"sourceIPAddress":"10.0.1.0"}}`, false},
	{"cidr first", `{"a":[{"cidr":"10.0.0.0/24"}]}`, `{"a":"10.0.0.0"}`, true},
	// event-ruler README: IP address matching
	{"cidr /8", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, stateEvent, true},
	{"cidr host bits ignored", `{"a":[{"cidr":"10.0.0.5/24"}]}`, `{"a":"10.0.0.1"}`, true},
	{"cidr /31", `{"a":[{"cidr":"192.168.1.2/31"}]}`, `{"a":"192.168.1.3"}`, true},
	{"cidr /31 outside", `{"a":[{"cidr":"192.168.1.2/31"}]}`, `{"a":"192.168.1.4"}`, false},
	{"cidr /0", `{"a":[{"cidr":"0.0.0.0/0"}]}`, `{"a":"203.0.113.7"}`, true},
	{"cidr v4 block v6 address", `{"a":[{"cidr":"0.0.0.0/0"}]}`, `{"a":"2001:db8::1"}`, false},
	{"cidr v6", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"2001:db8:1234::1"}`, true},
	{"cidr v6 upper case", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"2001:DB8:1234::1"}`, true},
	{"cidr v6 outside", `{"a":[{"cidr":"2001:db8::/32"}]}`, `{"a":"2001:db9::1"}`, false},
	{"cidr not ip", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"ec2.amazonaws.com"}`, false},
	{"cidr not number", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":10}`, false},
	{"cidr array", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":["1.2.3.4","10.9.8.7"]}`, true},
	{"cidr mapped v6 is v4", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"::ffff:a00:1"}`, true},
	{"cidr leading zeros decimal", `{"a":[{"cidr":"10.0.0.0/24"}]}`, `{"a":"010.000.000.009"}`, true},
	{"exact ip", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.1"}`, true},
	{"exact ip miss", `{"a":["10.0.0.1"]}`, `{"a":"10.0.0.2"}`, false},
	{"exact ipv6 by address", `{"a":["2001:db8::1"]}`, `{"a":"2001:DB8:0:0:0:0:0:1"}`, true},

	// $or.
	// AWS docs: Comparison operators (or)
	{"docs or", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Monday"}`, true},
	{"docs or neither", `{"$or":[{"Location":["New York"]},{"Day":["Monday"]}]}`, `{"Location":"Boston","Day":"Tuesday"}`, false},
	// AWS docs: Comparison operators (and)
	{"docs and", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Monday"}`, true},
	{"docs and one", `{"Location":["New York"],"Day":["Monday"]}`, `{"Location":"New York","Day":"Friday"}`, false},
	// event-ruler README: normal "Or"
	{"or first branch", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, `{"source":"aws.cloudwatch","metricName":"ReadLatency"}`, true},
	{"or second branch", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, `{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
	{"or no branch", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`, `{"source":"aws.cloudwatch","namespace":"AWS/S3"}`, false},
	{"or AND outside", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]}`, `{"source":"aws.ec2","namespace":"AWS/EC2"}`, false},
	// event-ruler JsonRuleCompiler ($or inside detail)
	{"or numeric branches", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]},{"x-limit":[{"numeric":["=",3.018e2]}]}]}}`, `{"detail":{"c-count":50,"d-count":50,"x-limit":301.8}}`, true},
	{"or numeric none", `{"detail":{"$or":[{"c-count":[{"numeric":[">",0,"<=",5]}]},{"d-count":[{"numeric":["<",10]}]}]}}`, `{"detail":{"c-count":50,"d-count":50}}`, false},
	// event-ruler README: parallel "Or"
	{"parallel or", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`, `{"namespace":"AWS/EC2","detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
	{"parallel or one side", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`, `{"namespace":"AWS/EC2","detail":{"detail-type":"other"}}`, false},
	// event-ruler README: nested "Or" and "And"
	{"nested or and", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1000}`, true},
	{"nested or and miss", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1001}`, false},
	{"or with exists false", `{"$or":[{"a":[{"exists":false}]},{"a":["x"]}]}`, `{"b":1}`, true},
	{"or branches same field", `{"$or":[{"a":["x"]},{"a":[{"prefix":"y"}]}]}`, `{"a":"yz"}`, true},
	{"or nested paths", `{"detail":{"$or":[{"a":{"b":["1"]}},{"c":["2"]}]}}`, `{"detail":{"a":{"b":"1"}}}`, true},
	{"or branch paths are relative", `{"detail":{"$or":[{"a":["1"]},{"c":["2"]}]}}`, `{"a":"1","c":"2"}`, false},

	// Combinations.
	// AWS docs: Content filtering (complex example with multiple matching)
	{"docs complex", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}]}}`, stateEvent, true},
	// event-ruler README: complex example
	{"ruler complex", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"initializing"}],"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"anything-but":[100,200,300]}],"source-ip":[{"cidr":"10.0.0.0/8"}]}}`, stateEvent, true},
	{"complex one failing", `{"time":[{"prefix":"2017-10-02"}],"detail":{"state":[{"anything-but":"running"}],"c-count":[{"numeric":[">",0,"<=",5]}]}}`, stateEvent, false},
	{"every kind in one list", `{"a":["x",1,true,null,{"prefix":"p"},{"suffix":"s"},{"equals-ignore-case":"E"},{"wildcard":"w*"},{"numeric":[">",100]},{"cidr":"10.0.0.0/8"}]}`, `{"a":"wow"}`, true},
	{"every kind in one list miss", `{"a":["x",1,true,null,{"prefix":"p"},{"suffix":"s"},{"equals-ignore-case":"E"},{"wildcard":"w*"},{"numeric":[">",100]},{"cidr":"10.0.0.0/8"}]}`, `{"a":"zzz"}`, false},
	{"every kind number", `{"a":["x",1,true,null,{"prefix":"p"},{"numeric":[">",100]}]}`, `{"a":150}`, true},
	{"top-level array event element", `{"a":["x"]}`, `[{"a":"y"},{"a":"x"}]`, true},
	{"deep path", `{"a":{"b":{"c":{"d":{"e":["deep"]}}}}}`, `{"a":{"b":{"c":{"d":{"e":"deep"}}}}}`, true},
	{"whitespace in event", `{"a":{"b":["x"]}}`, " {\n \"a\" : { \"b\" :\t[ \"x\" ] } } ", true},
}

// plainDoc hides a JSONDoc's type, so Match takes the path for any Doc.
type plainDoc struct{ d JSONDoc }

func (p plainDoc) Values(path []string, fn func(v []byte) bool) bool { return p.d.Values(path, fn) }
func (p plainDoc) Present(path []string) bool                        { return p.d.Present(path) }

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := Compile([]byte(tc.pattern))
			if err != nil {
				t.Fatalf("Compile(%s) = %v", tc.pattern, err)
			}
			if got := p.Match(JSONDoc(tc.event)); got != tc.want {
				t.Errorf("Match(JSONDoc) = %v, want %v\npattern %s\nevent %s", got, tc.want, tc.pattern, tc.event)
			}
			if got := p.Match(plainDoc{JSONDoc(tc.event)}); got != tc.want {
				t.Errorf("Match(plainDoc) = %v, want %v", got, tc.want)
			}
			if got := refMatch(t, p, []byte(tc.event)); got != tc.want {
				t.Errorf("reference match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestZeroPatternMatchesAll(t *testing.T) {
	var p Pattern
	if !p.Match(JSONDoc(`{"a":1}`)) {
		t.Error("zero Pattern.Match = false, want true")
	}
}

func TestPresent(t *testing.T) {
	t.Parallel()
	doc := JSONDoc(`{"a":null,"b":[],"c":{"d":1},"e":[{"f":2},{"g":[]}],"h":""}`)
	cases := []struct {
		path []string
		want bool
	}{
		{nil, true},
		{[]string{"a"}, true},
		{[]string{"b"}, true},
		{[]string{"c"}, true},
		{[]string{"c", "d"}, true},
		{[]string{"c", "x"}, false},
		{[]string{"e", "f"}, true},
		{[]string{"e", "g"}, true},
		{[]string{"e", "x"}, false},
		{[]string{"h"}, true},
		{[]string{"h", "x"}, false},
		{[]string{"z"}, false},
	}
	for _, tc := range cases {
		if got := doc.Present(tc.path); got != tc.want {
			t.Errorf("Present(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
