package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// maxReportsPerTenant bounds the reports of one tenant in flight on this gateway: a report is a
// second of the persister's time, and a supervisor's clicks must not queue up dozens.
const maxReportsPerTenant = 2

// reportSlots counts reports in flight per tenant.
type reportSlots struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *reportSlots) take(tenant string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	if r.n[tenant] >= maxReportsPerTenant {
		return false
	}
	r.n[tenant]++
	return true
}

func (r *reportSlots) give(tenant string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n[tenant]--; r.n[tenant] <= 0 {
		delete(r.n, tenant)
	}
}

// handleReports answers GET /v1/reports for a tenant's supervisors: the figures of
// [from, to) as JSON (frontdesk.v1.ReportReply with proto field names), or with format=csv as
// a CSV download. from and to are RFC 3339 times or dates (YYYY-MM-DD, midnight in tz); tz,
// queue, agent, label and bucket (day, hour) are passed through.
func (s *Server) handleReports(w http.ResponseWriter, r *http.Request) {
	c, ok := s.supervisor(w, r, "reports are for supervisors")
	if !ok {
		return
	}
	q := r.URL.Query()
	tz := q.Get("tz")
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			http.Error(w, "unknown time zone "+tz, http.StatusBadRequest)
			return
		}
	}
	from, err1 := reportTime(q.Get("from"), loc)
	to, err2 := reportTime(q.Get("to"), loc)
	if err1 != nil || err2 != nil || !to.After(from) {
		http.Error(w, "from and to are required: RFC 3339 times or YYYY-MM-DD dates, to after from", http.StatusBadRequest)
		return
	}
	format := q.Get("format")
	if format != "" && format != frames.ReportFormatCSV {
		http.Error(w, "format is csv or nothing", http.StatusBadRequest)
		return
	}
	if !s.reports.take(c.Tenant) {
		w.Header().Set("Retry-After", "2")
		http.Error(w, "a report is already being made for this tenant; try again in a moment", http.StatusTooManyRequests)
		return
	}
	defer s.reports.give(c.Tenant)
	reply, err := s.sessions.Report(r.Context(), &fd.ReportRequest{Tenant: c.Tenant, From: timestamppb.New(from),
		To: timestamppb.New(to), TimeZone: tz, Queue: q.Get("queue"), Agent: q.Get("agent"), Bucket: q.Get("bucket"), Format: format,
		Label: q.Get("label")})
	if err != nil {
		s.log.Warn("report", zap.String("tenant", c.Tenant), zap.Error(err))
		http.Error(w, "the report service did not answer", http.StatusBadGateway)
		return
	}
	if reply.GetError() != "" {
		http.Error(w, reply.GetError(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if format == frames.ReportFormatCSV {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s-%s-%s.csv"`, c.Tenant,
			from.In(loc).Format("2006-01-02"), to.In(loc).Format("2006-01-02")))
		_, _ = w.Write([]byte(reply.GetCsv()))
		return
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(reply)
	if err != nil {
		s.refuse(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// reportTime reads an RFC 3339 time or a date (midnight in loc).
func reportTime(v string, loc *time.Location) (time.Time, error) {
	if strings.Contains(v, "T") {
		return time.Parse(time.RFC3339, v)
	}
	return time.ParseInLocation(time.DateOnly, v, loc)
}
