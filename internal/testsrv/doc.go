// Package testsrv starts real servers for the tests of Vigil's alert
// delivery and live sources: a Prometheus Alertmanager cluster gossiping on
// loopback ([AlertmanagerCluster]), a webhook that records what Alertmanager
// sends ([AMWebhook]), Mailpit, an SMTP server that captures mail and serves
// it back over an HTTP API ([Mailpit]), the versitygw S3 gateway
// ([VersityGW]) and Moto's AWS emulator, which Vigil's tests use for SQS,
// and for S3 bucket notifications and SNS ([Moto]). Each of the last two
// says in its doc comment what it was checked to do and where it differs
// from AWS.
//
// It is imported only by tests. The server binaries are built from the
// versions pinned in tools/go.mod by scripts/tools.sh (which `make test`
// runs) into $VIGIL_TOOLS, by default .cache/tools/bin in the repository;
// Moto is a Python program that comes with the machine, and tools.sh puts a
// moto_server wrapper for it there. When a binary is missing, [Binary] skips
// the test, unless VIGIL_REQUIRE_SERVERS=1 or CI is set, in which case it
// fails: CI never skips these tests.
//
// Every server listens on 127.0.0.1 only, on ports chosen by the test, keeps
// its state and log in t.TempDir(), and is stopped in t.Cleanup. When a test
// fails, the tail of each server's log is printed with it.
package testsrv
