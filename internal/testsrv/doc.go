// Package testsrv starts real servers for the tests of Vigil's alert
// delivery: a Prometheus Alertmanager cluster gossiping on loopback
// ([AlertmanagerCluster]), a webhook that records what Alertmanager sends
// ([AMWebhook]) and Mailpit, an SMTP server that captures mail and serves it
// back over an HTTP API ([Mailpit]).
//
// It is imported only by tests. The server binaries are built from the
// versions pinned in tools/go.mod by scripts/tools.sh (which `make test`
// runs) into $VIGIL_TOOLS, by default .cache/tools/bin in the repository.
// When a binary is missing, [Binary] skips the test, unless
// VIGIL_REQUIRE_SERVERS=1 or CI is set, in which case it fails: CI never
// skips these tests.
//
// Every server listens on 127.0.0.1 only, on ports chosen by the test, keeps
// its state and log in t.TempDir(), and is stopped in t.Cleanup. When a test
// fails, the tail of each server's log is printed with it.
package testsrv
