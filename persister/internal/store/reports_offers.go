package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
)

// reportOffersSQL counts the offers each agent declined or let expire in the range: one range
// of the partial index events_offers (migration 0143). Offers count by when they were made,
// not by when their conversation opened.
const reportOffersSQL = `SELECT agent_id, type, count(*) FROM events
WHERE tenant = $1 AND type IN ('offer_declined', 'offer_missed') AND at >= $2 AND at < $3
	AND ($4 = '' OR queue = $4) AND ($5 = '' OR agent_id = $5)
GROUP BY agent_id, type`

// addOffers adds the offer figures to a report's agents and total. An agent with offers but no
// conversation of the range gets a row of its own.
func (s *Store) addOffers(ctx context.Context, q reports.Query, out *fd.ReportReply) error {
	rows, err := s.pool.Query(ctx, reportOffersSQL, q.Tenant, q.From, q.To, q.Queue, q.Agent)
	if err != nil {
		return fmt.Errorf("offers: %w", err)
	}
	byAgent := map[string]*fd.ReportFigures{}
	for _, f := range out.GetAgents() {
		byAgent[f.GetKey()] = f
	}
	var agent, typ string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&agent, &typ, &n}, func() error {
		f := byAgent[agent]
		if f == nil && agent != "" {
			f = &fd.ReportFigures{Key: agent, CsatScores: make([]int64, 5), FirstResponse: &fd.DurationStats{},
				FirstBotResponse: &fd.DurationStats{}, QueueWait: &fd.DurationStats{}, Resolution: &fd.DurationStats{},
				LeftAnswer: &fd.DurationStats{}, HandoffResponse: &fd.DurationStats{}}
			byAgent[agent] = f
			out.Agents = append(out.Agents, f)
		}
		for _, g := range []*fd.ReportFigures{f, out.GetTotal()} {
			if g == nil {
				continue
			}
			switch typ {
			case frames.EventOfferDeclined:
				g.OffersDeclined += n
			case frames.EventOfferMissed:
				g.OffersMissed += n
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("offers: %w", err)
	}
	// Busiest first, as the aggregator orders them; offer-only rows last.
	slices.SortStableFunc(out.Agents, func(a, b *fd.ReportFigures) int {
		switch {
		case a.GetOpened() > b.GetOpened():
			return -1
		case a.GetOpened() < b.GetOpened():
			return 1
		}
		if a.GetOpened() == 0 {
			return strings.Compare(a.GetKey(), b.GetKey())
		}
		return 0
	})
	return nil
}
