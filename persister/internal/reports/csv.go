package reports

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"slices"
	"strconv"
	"strings"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// csvHeader names the columns of CSV. Durations are in seconds.
var csvHeader = []string{"section", "key", "opened", "bot_only", "handed_off", "assigned", "transferred",
	"abandoned", "closed", "reopened", "messages", "left_messages", "left_answered",
	"deflection_rate", "reopen_rate", "messages_per_conversation",
	"first_response_count", "first_response_median_s", "first_response_p90_s",
	"first_bot_response_count", "first_bot_response_median_s", "first_bot_response_p90_s",
	"queue_wait_count", "queue_wait_median_s", "queue_wait_p90_s",
	"resolution_count", "resolution_median_s", "resolution_p90_s",
	"left_answer_count", "left_answer_median_s", "left_answer_p90_s",
	"handoff_response_count", "handoff_response_median_s", "handoff_response_p90_s",
	"first_response_breached", "resolution_breached",
	"sla_first_response_breached", "sla_resolution_breached", "rated", "csat_average",
	"csat_1", "csat_2", "csat_3", "csat_4", "csat_5", "offers_declined", "offers_missed",
	"available_s", "away_s", "occupancy"}

// CSV is the CSV form of a reply: one header line, then rows tagged by section (total, agent,
// queue, series, handoff_reason, heatmap). Handoff reasons put their count in "opened";
// heat map rows are keyed weekday-hour ("mon-09") with the count in "opened". Cells a
// spreadsheet would run as a formula are prefixed with a quote.
func CSV(r *fd.ReportReply) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(csvHeader)
	row := func(section string, f *fd.ReportFigures) {
		rec := []string{section, cell(f.GetKey())}
		for _, n := range []int64{f.GetOpened(), f.GetBotOnly(), f.GetHandedOff(), f.GetAssigned(), f.GetTransferred(),
			f.GetAbandoned(), f.GetClosed(), f.GetReopened(), f.GetMessages(), f.GetLeftMessages(), f.GetLeftAnswered()} {
			rec = append(rec, strconv.FormatInt(n, 10))
		}
		for _, x := range []float64{f.GetDeflectionRate(), f.GetReopenRate(), f.GetMessagesPerConversation()} {
			rec = append(rec, num(x))
		}
		for _, d := range []*fd.DurationStats{f.GetFirstResponse(), f.GetFirstBotResponse(), f.GetQueueWait(), f.GetResolution(),
			f.GetLeftAnswer(), f.GetHandoffResponse()} {
			rec = append(rec, strconv.FormatInt(d.GetCount(), 10), num(d.GetMedianS()), num(d.GetP90S()))
		}
		rec = append(rec, strconv.FormatInt(f.GetFirstResponseBreached(), 10), strconv.FormatInt(f.GetResolutionBreached(), 10))
		rec = append(rec, strconv.FormatInt(f.GetSlaFirstResponseBreached(), 10), strconv.FormatInt(f.GetSlaResolutionBreached(), 10),
			strconv.FormatInt(f.GetRated(), 10), num(f.GetCsatAverage()))
		scores := f.GetCsatScores()
		for i := range 5 {
			var n int64
			if i < len(scores) {
				n = scores[i]
			}
			rec = append(rec, strconv.FormatInt(n, 10))
		}
		rec = append(rec, strconv.FormatInt(f.GetOffersDeclined(), 10), strconv.FormatInt(f.GetOffersMissed(), 10))
		rec = append(rec, num(f.GetAvailableS()), num(f.GetAwayS()), num(f.GetOccupancy()))
		_ = w.Write(rec)
	}
	row("total", r.GetTotal())
	for _, f := range r.GetAgents() {
		row("agent", f)
	}
	for _, f := range r.GetQueues() {
		row("queue", f)
	}
	for _, f := range r.GetSeries() {
		row("series", f)
	}
	short := func(section, key string, n int64) {
		rec := make([]string, len(csvHeader))
		rec[0], rec[1], rec[2] = section, cell(key), strconv.FormatInt(n, 10)
		_ = w.Write(rec)
	}
	for _, k := range sortedKeys(r.GetHandoffReasons()) {
		short("handoff_reason", k, r.GetHandoffReasons()[k])
	}
	days := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	for i, n := range r.GetHeatmap() {
		short("heatmap", days[i/24%7]+"-"+twoDigits(i%24), n)
	}
	w.Flush()
	return buf.Bytes()
}

// cell defuses spreadsheet formulas in a key that came from a client (a queue or agent id
// is a subject token, so this is a second line of defence).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Largest first, then by name, like the reply's tables.
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	return keys
}
