package testkit

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
)

// Request sends req on subject, waits up to timeout for the reply and decodes it into rep,
// failing the test on any error.
func Request[Rep proto.Message](t testing.TB, nc *nats.Conn, subject string, req proto.Message, rep Rep, timeout time.Duration) Rep {
	t.Helper()
	data, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := nc.Request(subject, data, timeout)
	if err != nil {
		t.Fatalf("request on %s: %v", subject, err)
	}
	if err := proto.Unmarshal(msg.Data, rep); err != nil {
		t.Fatal(err)
	}
	return rep
}
