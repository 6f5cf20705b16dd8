package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/services/ops"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// TestServicesWaitForTheirDependencies starts the four services as processes while NATS and
// Postgres are both stopped. None exits (no crash loop for an orchestrator to back off from):
// each answers /readyz with 503 naming what it lacks. Once NATS and Postgres start, every
// service becomes ready by itself and a customer's message is acked, reaches the record.
func TestServicesWaitForTheirDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the four services as processes")
	}
	t.Parallel()
	ns := testkit.RunNATS(t)
	pg := testkit.StoppablePostgres(t)
	dbURL := pg.CreateDatabase(t, "frontdesk")
	sys := StartSystem(t, SystemOptions{NATSURL: ns.URL(), DatabaseURL: dbURL, NoWait: true,
		Tenants: demoTenants(t), BeforeStart: func() {
			ns.Shutdown()
			pg.Stop(t)
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	testkit.CheckFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		for _, n := range stack.Names() {
			select {
			case <-sys.Procs[n].Done():
				return fmt.Errorf("%s exited while its dependencies were away: %v\n%s", n, sys.Procs[n].ExitErr(), sys.logTail(n))
			default:
			}
			code, body, err := readyzOf(ctx, sys.Set.OpsAddr(n))
			if err != nil {
				return fmt.Errorf("%s: %v", n, err)
			}
			if code != http.StatusServiceUnavailable || body.Status != ops.StatusNotReady {
				return fmt.Errorf("%s /readyz = %d %+v while NATS and Postgres are away", n, code, body)
			}
		}
		return nil
	})
	ns.Restart(t)
	pg.Start(t)
	for _, n := range stack.Names() {
		if err := sys.Procs[n].WaitReady(ctx); err != nil {
			t.Fatalf("%v\n%s", err, sys.logTail(n))
		}
	}
	customer, _, _ := sys.Customer(t, ctx, "demo", "Patience")
	m := send(t, ctx, customer, "", "after", "you are all here now")
	testkit.CheckFor(t, 30*time.Second, 200*time.Millisecond, func() error {
		rows, err := sys.Messages(ctx, "demo", m.conv)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("message not in Postgres yet")
		}
		return nil
	})
}

func readyzOf(ctx context.Context, addr string) (int, ops.ReadyBody, error) {
	var body ops.ReadyBody
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return 0, body, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, body, err
	}
	defer res.Body.Close()
	err = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, err
}
