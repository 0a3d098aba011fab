package sns

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// docNotification is the notification body in AWS's "HTTP/HTTPS
// notification JSON format" (signature shortened: Parse does not check it).
const docNotification = `{
  "Type" : "Notification",
  "MessageId" : "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
  "TopicArn" : "arn:aws:sns:us-west-2:123456789012:MyTopic",
  "Subject" : "My First Message",
  "Message" : "Hello world!",
  "Timestamp" : "2012-05-02T00:54:06.655Z",
  "SignatureVersion" : "1",
  "Signature" : "EXAMPLEw6JRN...",
  "SigningCertURL" : "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
  "UnsubscribeURL" : "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96"
}`

// docConfirmation is the subscription confirmation body in AWS's "HTTP/HTTPS
// subscription confirmation JSON format".
const docConfirmation = `{
  "Type" : "SubscriptionConfirmation",
  "MessageId" : "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
  "Token" : "2336412f37...",
  "TopicArn" : "arn:aws:sns:us-west-2:123456789012:MyTopic",
  "Message" : "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
  "SubscribeURL" : "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37...",
  "Timestamp" : "2012-04-26T20:45:04.751Z",
  "SignatureVersion" : "1",
  "Signature" : "EXAMPLEpH+...",
  "SigningCertURL" : "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
}`

func TestParseDocExamples(t *testing.T) {
	t.Parallel()
	m, err := Parse([]byte(docNotification))
	if err != nil {
		t.Fatal(err)
	}
	want := &Message{
		Type:             TypeNotification,
		MessageID:        "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
		TopicArn:         "arn:aws:sns:us-west-2:123456789012:MyTopic",
		Subject:          "My First Message",
		HasSubject:       true,
		Message:          "Hello world!",
		Timestamp:        "2012-05-02T00:54:06.655Z",
		SignatureVersion: "1",
		Signature:        "EXAMPLEw6JRN...",
		SigningCertURL:   "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
		UnsubscribeURL:   "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96",
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse(notification) = %+v, want %+v", m, want)
	}

	m, err = Parse([]byte(docConfirmation))
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeSubscriptionConfirmation || m.Token != "2336412f37..." || m.HasSubject ||
		!strings.Contains(m.Message, ".\nTo confirm") || !strings.HasPrefix(m.SubscribeURL, "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&") {
		t.Errorf("Parse(confirmation) = %+v", m)
	}
}

// replace returns docNotification with old replaced by new.
func replace(old, new string) string { return strings.Replace(docNotification, old, new, 1) }

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		check   func(*Message) bool // for valid bodies
		wantErr string              // for invalid ones
	}{
		{name: "no Subject", body: replace(`"Subject" : "My First Message",`, ""),
			check: func(m *Message) bool { return !m.HasSubject && m.Subject == "" }},
		{name: "empty Subject is present", body: replace(`"My First Message"`, `""`),
			check: func(m *Message) bool { return m.HasSubject && m.Subject == "" }},
		{name: "null Subject is absent", body: replace(`"My First Message"`, `null`),
			check: func(m *Message) bool { return !m.HasSubject }},
		{name: "escapes decoded", body: replace(`"Hello world!"`, `"a\nb\t\"c\" \u00e9 \ud83d\ude00 \/"`),
			check: func(m *Message) bool { return m.Message == "a\nb\t\"c\" é 😀 /" }},
		{name: "unknown keys ignored", body: replace(`"Type" : "Notification",`, `"Type" : "Notification", "Extra": {"a":[1,2,{"b":null}]}, "Other": 3,`),
			check: func(m *Message) bool { return m.Type == TypeNotification }},
		{name: "MessageAttributes", body: replace(`"Type" : "Notification",`, `"Type" : "Notification", "MessageAttributes" : {"source":{"Type":"String","Value":"vigil"},"n":{"Type":"Number","Value":"3"}},`),
			check: func(m *Message) bool {
				return reflect.DeepEqual(m.MessageAttributes, map[string]Attribute{
					"source": {Type: "String", Value: "vigil"}, "n": {Type: "Number", Value: "3"}})
			}},
		{name: "leading and trailing space", body: " \n" + docNotification + "\n\t ",
			check: func(m *Message) bool { return m.MessageID != "" }},

		{name: "empty", body: ``, wantErr: "not a JSON object"},
		{name: "array", body: `[` + docNotification + `]`, wantErr: "not a JSON object"},
		{name: "string", body: `"Notification"`, wantErr: "not a JSON object"},
		{name: "raw delivery body", body: `{"Records":[{"eventSource":"aws:s3"}]}`, wantErr: "Type: required"},
		{name: "trailing data", body: docNotification + `{}`, wantErr: "data after the JSON object"},
		{name: "truncated", body: docNotification[:200], wantErr: "malformed"},
		{name: "trailing comma", body: replace(`"UnsubscribeURL"`, `"X":1,}`), wantErr: "malformed"},
		{name: "invalid UTF-8", body: replace("Hello world!", "Hello \xff world"), wantErr: "not valid UTF-8"},
		{name: "repeated key", body: replace(`"Message" : "Hello world!",`, `"Message" : "Hello world!", "Message" : "other",`), wantErr: "Message: repeated key"},
		{name: "repeated attributes", body: replace(`"Type" : "Notification",`, `"Type" : "Notification", "MessageAttributes":{}, "MessageAttributes":{},`), wantErr: "MessageAttributes: repeated key"},
		{name: "key case differs", body: replace(`"MessageId"`, `"messageid"`), wantErr: "Notification without MessageId"},
		{name: "Message number", body: replace(`"Hello world!"`, `42`), wantErr: "Message: not a string"},
		{name: "Message object", body: replace(`"Hello world!"`, `{"a":"b"}`), wantErr: "Message: not a string"},
		{name: "Message bool", body: replace(`"Hello world!"`, `true`), wantErr: "Message: not a string"},
		{name: "Message null", body: replace(`"Hello world!"`, `null`), wantErr: "Notification without Message"},
		{name: "Message empty", body: replace(`"Hello world!"`, `""`), wantErr: "Notification without Message"},
		{name: "Type missing", body: replace(`"Type" : "Notification",`, ``), wantErr: "Type: required"},
		{name: "Type unknown", body: replace(`"Type" : "Notification"`, `"Type" : "Notice"`), wantErr: `unknown message type "Notice"`},
		{name: "several missing", body: `{"Type":"Notification","TopicArn":"arn:aws:sns:us-west-2:123456789012:MyTopic"}`,
			wantErr: "Notification without MessageId, Message, Timestamp, SignatureVersion, Signature, SigningCertURL"},
		{name: "confirmation without SubscribeURL", body: strings.Replace(docConfirmation, `"SubscribeURL"`, `"SubscribeUrl"`, 1), wantErr: "SubscriptionConfirmation without SubscribeURL"},
		{name: "confirmation without Token", body: strings.Replace(docConfirmation, `"Token" : "2336412f37...",`, ``, 1), wantErr: "SubscriptionConfirmation without Token"},
		{name: "Timestamp not RFC 3339", body: replace(`"2012-05-02T00:54:06.655Z"`, `"Wed, 02 May 2012 00:54:06 GMT"`), wantErr: "Timestamp: not an RFC 3339 time"},
		{name: "MessageAttributes not an object", body: replace(`"Type" : "Notification",`, `"Type" : "Notification", "MessageAttributes" : "x",`), wantErr: "MessageAttributes:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := Parse([]byte(tc.body))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse() error = %v, want nil", err)
				}
				if !tc.check(m) {
					t.Errorf("Parse() = %+v, check failed", m)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse() = %+v, want error containing %q", m, tc.wantErr)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse() error = %v, want ErrMalformed containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseErrorsDoNotQuoteValues(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("s3cr3t", 100)
	for _, body := range []string{
		replace(`"2012-05-02T00:54:06.655Z"`, `"`+secret+`"`),
		replace(`"Type" : "Notification"`, `"Type" : "`+secret+`"`),
	} {
		_, err := Parse([]byte(body))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("Parse() error = %v: want an error without the whole value", err)
		}
	}
}

func TestUnwrap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"signed envelope", docNotification, true},
		{"leading space", "\n  " + docNotification, true},
		// SNS delivers to SQS in the same envelope; a test publish may lack
		// the signature fields, which Unwrap does not need.
		{"unsigned envelope", `{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:eu-west-1:123456789012:t","Message":"{\"Records\":[]}"}`, true},
		{"confirmation", docConfirmation, true},
		{"raw S3 event (raw delivery)", `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3"}]}`, false},
		{"CloudTrail record", `{"eventVersion":"1.08","eventName":"GetObject","eventSource":"s3.amazonaws.com"}`, false},
		{"EventBridge event", `{"version":"0","detail-type":"AWS API Call via CloudTrail","detail":{}}`, false},
		{"notification without Message", `{"Type":"Notification","MessageId":"m-1","TopicArn":"arn:aws:sns:eu-west-1:123456789012:t"}`, false},
		{"without TopicArn", `{"Type":"Notification","MessageId":"m-1","Message":"x"}`, false},
		{"unknown Type", `{"Type":"Other","MessageId":"m-1","TopicArn":"t","Message":"x"}`, false},
		{"not JSON", `Hello world!`, false},
		{"gzip", "\x1f\x8b\x08\x00", false},
		{"empty", ``, false},
		{"broken JSON", `{"Type":"Notification",`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, ok := Unwrap([]byte(tc.body))
			if ok != tc.want || ok != (m != nil) {
				t.Errorf("Unwrap() = %v, %v, want ok %v", m, ok, tc.want)
			}
		})
	}
}
