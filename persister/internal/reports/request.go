package reports

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// MaxRange is the longest range one report covers: a year and a bit, so a year over year
// page needs two requests and no request scans a tenant's whole history.
const MaxRange = 400 * 24 * time.Hour

// MaxHourlyRange is the longest range with hourly series: 744 buckets keep a reply (and its
// CSV) well under NATS's default 1 MB payload.
const MaxHourlyRange = 31 * 24 * time.Hour

// ErrBadRequest is wrapped by Resolve's errors.
var ErrBadRequest = errors.New("bad report request")

// Query is a checked report request.
type Query struct {
	// Tenant is the tenant.
	Tenant string
	// From and To bound the opening time of the conversations: [From, To).
	From, To time.Time
	// Zone is the IANA zone of the series and the heat map.
	Zone string
	// Queue, Agent and Label filter the conversations ("" for all).
	Queue, Agent, Label string
	// Bucket is the series step (frames.ReportBucketDay or ReportBucketHour).
	Bucket string
	// CSV asks for the reply in CSV.
	CSV bool
	// Targets are the service-level targets, QueueTargets a queue's own.
	Targets      Targets
	QueueTargets map[string]Targets
}

// Targets are service-level targets in seconds (0: none).
type Targets struct{ FirstResponseS, ResolutionS float64 }

// maxQueueTargets bounds the queues a request may give targets for.
const maxQueueTargets = 1000

func targetsOf(t *fd.ServiceTargets) (Targets, bool) {
	x := Targets{FirstResponseS: t.GetFirstResponseS(), ResolutionS: t.GetResolutionS()}
	ok := x.FirstResponseS >= 0 && x.ResolutionS >= 0 && !math.IsInf(x.FirstResponseS, 0) && !math.IsInf(x.ResolutionS, 0)
	return x, ok
}

// Resolve checks req and fills the defaults: the time zone is the request's, else
// tenantZone (the tenant's business-hours zone), else UTC.
func Resolve(tenant string, req *fd.ReportRequest, tenantZone string) (Query, error) {
	q := Query{Tenant: tenant, Queue: req.GetQueue(), Agent: req.GetAgent(), Label: req.GetLabel(), Bucket: req.GetBucket()}
	if !req.GetFrom().IsValid() || !req.GetTo().IsValid() {
		return q, fmt.Errorf("%w: from and to are required", ErrBadRequest)
	}
	q.From, q.To = req.GetFrom().AsTime(), req.GetTo().AsTime()
	if !q.To.After(q.From) || q.To.Sub(q.From) > MaxRange {
		return q, fmt.Errorf("%w: to must be after from, at most %v later", ErrBadRequest, MaxRange)
	}
	if (q.Queue != "" && !subjects.ValidToken(q.Queue)) || (q.Agent != "" && !subjects.ValidToken(q.Agent)) {
		return q, fmt.Errorf("%w: queue or agent", ErrBadRequest)
	}
	if !validLabel(q.Label) {
		return q, fmt.Errorf("%w: label", ErrBadRequest)
	}
	switch q.Bucket {
	case "":
		q.Bucket = frames.ReportBucketDay
	case frames.ReportBucketDay:
	case frames.ReportBucketHour:
		if q.To.Sub(q.From) > MaxHourlyRange {
			return q, fmt.Errorf("%w: hourly series over at most %v", ErrBadRequest, MaxHourlyRange)
		}
	default:
		return q, fmt.Errorf("%w: bucket %q", ErrBadRequest, q.Bucket)
	}
	switch req.GetFormat() {
	case "":
	case frames.ReportFormatCSV:
		q.CSV = true
	default:
		return q, fmt.Errorf("%w: format %q", ErrBadRequest, req.GetFormat())
	}
	var ok bool
	if q.Targets, ok = targetsOf(req.GetTargets()); !ok {
		return q, fmt.Errorf("%w: targets", ErrBadRequest)
	}
	if len(req.GetQueueTargets()) > maxQueueTargets {
		return q, fmt.Errorf("%w: targets for more than %d queues", ErrBadRequest, maxQueueTargets)
	}
	for queue, t := range req.GetQueueTargets() {
		x, ok := targetsOf(t)
		if !ok || !subjects.ValidToken(queue) {
			return q, fmt.Errorf("%w: targets of queue %q", ErrBadRequest, queue)
		}
		if q.QueueTargets == nil {
			q.QueueTargets = map[string]Targets{}
		}
		q.QueueTargets[queue] = x
	}
	q.Zone = "UTC"
	for _, z := range []string{req.GetTimeZone(), tenantZone} {
		if z == "" {
			continue
		}
		// Go and Postgres read the same IANA database; a name Go does not know is refused
		// here rather than failing in SQL.
		if _, err := time.LoadLocation(z); err != nil || z == "Local" {
			return q, fmt.Errorf("%w: time zone %q", ErrBadRequest, z)
		}
		q.Zone = z
		break
	}
	return q, nil
}

// Rates fills f's derived ratios from its counts.
func Rates(f *fd.ReportFigures) {
	ratio := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	f.DeflectionRate = ratio(f.GetBotOnly(), f.GetOpened())
	f.ReopenRate = ratio(f.GetReopened(), f.GetClosed())
	f.MessagesPerConversation = ratio(f.GetMessages(), f.GetOpened())
}

// MaxLabelBytes bounds a label filter (labels are tenant-defined names, not text).
const MaxLabelBytes = 64

// validLabel accepts "" (no filter) or a short printable name.
func validLabel(s string) bool {
	if len(s) > MaxLabelBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
