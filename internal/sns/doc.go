// Package sns receives Amazon SNS messages over HTTP/HTTPS: it parses the
// JSON envelope strictly, verifies SNS's signature, confirms subscriptions
// for allowed topics only, and hands verified notifications on.
//
// The pieces:
//
//   - [Parse] reads one envelope (Notification, SubscriptionConfirmation or
//     UnsubscribeConfirmation) and checks the fields each type requires;
//     [Unwrap] recognises an envelope carried elsewhere (an SQS body).
//   - [Verifier] checks a message's signature (SignatureVersion 1,
//     SHA1withRSA, and 2, SHA256withRSA) against the certificate at its
//     SigningCertURL, which is fetched only from an SNS host over HTTPS and
//     cached, and rejects messages older than a maximum age.
//   - [Handler] is the POST endpoint SNS delivers to.
//
// # Trust
//
// A message is trusted because its signature verifies with a certificate
// fetched over HTTPS from a host matching
// ^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$ (every standard, GovCloud and
// China region; see [IsSNSHost]): TLS to that host is what vouches for the
// certificate, as in AWS's own SDK validators. The same rule guards the
// SubscribeURL the handler visits, so a forged message cannot make Vigil
// fetch anything from anywhere else. A valid signature proves only that
// SNS sent the message; that the topic is one of the operator's is the
// handler's topic allow-list, checked before any fetch.
//
// MessageAttributes are not covered by SNS's signature and must not be
// trusted.
//
// # Status codes
//
// SNS retries an HTTP delivery only when the answer is outside 200–499 or
// the request times out (15 s), for at most an hour in all. The handler
// therefore answers 4xx only for what no retry can fix (malformed, forged,
// foreign or stale messages) and 5xx when a retry may succeed (a failed
// confirmation, a certificate that could not be fetched, a full pipeline).
// It never answers 429: SNS would count that as delivered.
package sns
