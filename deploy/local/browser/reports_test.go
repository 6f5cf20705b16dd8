package browser_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// supervisorToken signs a supervisor token for tenant.
func supervisorToken(t *testing.T, tenant, id, name string) string {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{Subject: id, Tenant: tenant, Role: "supervisor", Name: name, MaxChats: 3}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// reportsTenant has a service-level policy short enough for a test: a first response within
// 6 s (at risk after 3 s).
func reportsTenant() *fd.Tenant {
	t := featureTenant("reports")
	t.ServiceLevel = &fd.ServiceLevel{FirstResponseS: 6, WarnRatio: 0.5}
	return t
}

// testReports: two customers are served by an agent (one conversation closed); the supervisor's
// Reports page shows them in its tiles, the chart, the agent's row and the heat map, and the
// CSV download is the report. The figures come from the persister's record, end to end. The
// conversation the agent does not answer breaches the first-response target: the dispatcher
// announces it, the agent's list flags it, and the report counts it.
func testReports(t *testing.T, sys *system, b *browser) {
	rita := b.tab(t, "agent-rita", true)
	openConsole(rita, sys.URL, tokenFor(t, "reports", "a_rita", "Rita Report"))
	setAvailable(rita, true)
	for _, name := range []string{"Una One", "Tom Two"} {
		v := newVisitor(t, sys, "reports", name)
		v.say("Hello, I need help with my order")
		v.waitAgent("Rita Report")
	}
	rita.waitJS("two conversations", `document.querySelectorAll('.conv-list li').length === 2`)
	rita.do("answer", chromedp.SendKeys(chromedp.CSS(".composer-input"), "Happy to help.\r"))
	rita.waitJS("service-level flag", `!!document.querySelector('.conv-list .sla.breached')`)
	if txt := eval[string](rita, `document.querySelector('.conv-list .sla.breached').textContent`); !strings.Contains(txt, "first response") {
		t.Fatalf("flag %q", txt)
	}
	rita.screenshot("console-sla-flag")

	sup := b.tab(t, "supervisor-sam", true)
	openConsole(sup, sys.URL, supervisorToken(t, "reports", "s_sam", "Sam Supervisor"))
	// The persister writes the record in batches: wait until the report sees both conversations.
	testkit.CheckFor(t, waitFor, 300*time.Millisecond, func() error {
		sup.do("open reports", chromedp.Click(chromedp.CSS("#open-reports")))
		sup.waitJS("tiles", `!!document.querySelector('.tiles') || !!document.querySelector('.reports .error')`)
		opened := eval[string](sup, `document.querySelector('.tile[data-k="opened"] .tile-value')?.textContent ?? ''`)
		first := eval[string](sup, `document.querySelector('.tile[data-k="first_response"] .tile-value')?.textContent ?? ''`)
		breaches := eval[string](sup, `document.querySelector('.tile[data-k="sla"] .tile-value')?.textContent ?? ''`)
		// Rita's time available comes from her status events (occupancy), stored apart.
		avail := eval[string](sup, `[...document.querySelectorAll('.report-table')][0]?.querySelector('tbody td[data-k="available"]')?.textContent ?? ''`)
		if opened != "2" || first == "–" || first == "" || breaches == "0" || breaches == "" || avail == "–" || avail == "" {
			sup.do("back", chromedp.Click(chromedp.CSS(".reports-head .btn:last-child")))
			return errNot("tiles show " + opened + " conversations, first response " + first + ", breaches " + breaches + ", available " + avail)
		}
		return nil
	})
	if txt := eval[string](sup, `document.querySelector('.tiles').textContent`); strings.Contains(txt, "NaN") || strings.Contains(txt, "Infinity") {
		t.Fatalf("tiles: %q", txt)
	}
	if n := eval[int](sup, `document.querySelectorAll('.report-chart rect.bar').length`); n < 1 {
		t.Fatalf("chart bars: %d", n)
	}
	if got := eval[string](sup, `[...document.querySelectorAll('.report-table')][0].querySelector('tbody th')?.textContent ?? ''`); got != "a_rita" {
		t.Fatalf("agent row %q", got)
	}
	if n := eval[int](sup, `document.querySelectorAll('.heatmap td.on').length`); n != 1 {
		t.Fatalf("heat map cells lit: %d, want the one hour of today", n)
	}
	if n := eval[int](sup, `document.querySelectorAll('.csat-scores .col').length`); n != 5 {
		t.Fatalf("rating columns: %d", n)
	}
	if got := eval[string](sup, `[...document.querySelectorAll('.report-table')][0].querySelector('tbody td[data-k="sla"]')?.textContent ?? ''`); got == "0" || got == "" {
		t.Fatalf("agent's breaches %q", got)
	}
	// Rita has held two conversations of her three all along: her occupancy is above zero.
	if got := eval[string](sup, `[...document.querySelectorAll('.report-table')][0].querySelector('tbody td[data-k="occupancy"]')?.textContent ?? ''`); !strings.HasSuffix(got, "%") || got == "0%" {
		t.Fatalf("agent's occupancy %q", got)
	}
	sup.screenshot("console-reports")
	// A label nobody set selects nothing.
	sup.do("label filter", chromedp.SendKeys(chromedp.CSS(".reports-label"), "no-such-label\r"))
	sup.waitJS("filtered", `document.querySelector('.tile[data-k="opened"] .tile-value')?.textContent === '0'`)

	// The CSV download is the same report, as a file.
	var csv struct {
		Type, Disposition, Body string
	}
	raw := eval[string](sup, `(async () => {
		const u = new URL(location.origin + '/v1/reports');
		const to = new Date(); to.setHours(24, 0, 0, 0);
		const from = new Date(to.getTime() - 7 * 86400000);
		u.search = new URLSearchParams({from: from.toISOString(), to: to.toISOString(), format: 'csv'});
		const r = await fetch(u, {headers: {Authorization: 'Bearer ' + localStorage.getItem('fd:agent:token')}});
		return JSON.stringify({Type: r.headers.get('Content-Type'), Disposition: r.headers.get('Content-Disposition'), Body: await r.text()});
	})()`)
	if err := json.Unmarshal([]byte(raw), &csv); err != nil {
		t.Fatalf("csv fetch: %v (%s)", err, raw)
	}
	if !strings.HasPrefix(csv.Type, "text/csv") || !strings.HasPrefix(csv.Disposition, "attachment") || !strings.Contains(csv.Body, "a_rita") ||
		!strings.Contains(strings.SplitN(csv.Body, "\n", 2)[0], ",available_s,away_s,occupancy") {
		t.Fatalf("csv download: %+v", csv)
	}
	sup.do("download", chromedp.Click(chromedp.CSS("#report-csv")))
	checkNoPageErrors(t, rita, sup)
}

type errNot string

func (e errNot) Error() string { return string(e) }
