-- The facts 0140 added, for conversations whose events the record already holds (the same as
-- reports.Fold computes live). Events that change no state (sla_at_risk, sla_breached, rated,
-- labeled, transcript_requested, offer_declined, offer_missed) also take no part in the close:
-- 0007 counted a rating stored after the close as the close.
WITH ev AS (
    SELECT tenant, conv, seq, type, at,
        CASE WHEN state <> '' THEN state
             WHEN type IN ('queued', 'requeued') THEN 'queued'
             WHEN type = 'assigned' THEN 'assigned'
             WHEN type = 'closed' THEN 'closed'
             ELSE '' END AS after
    FROM events
    WHERE type NOT IN ('sla_at_risk', 'sla_breached', 'rated', 'labeled', 'transcript_requested', 'offer_declined', 'offer_missed')
        AND (tenant, conv) IN (SELECT tenant, conv FROM events
            WHERE type IN ('sla_at_risk', 'sla_breached', 'rated', 'labeled', 'transcript_requested', 'offer_declined', 'offer_missed'))
), steps AS (
    SELECT *, coalesce(lag(after) OVER (PARTITION BY tenant, conv ORDER BY seq), '') AS before FROM ev
), closes AS (
    SELECT tenant, conv,
        (array_agg(at ORDER BY seq DESC) FILTER (WHERE after = 'closed'))[1] AS closed_at,
        coalesce((array_agg(before = 'queued' ORDER BY seq DESC) FILTER (WHERE after = 'closed'))[1], false)
            AND count(*) FILTER (WHERE after = 'assigned') = 0 AS abandoned
    FROM steps GROUP BY tenant, conv
)
UPDATE report_conversations r SET closed_at = c.closed_at, abandoned = c.abandoned
FROM closes c WHERE r.tenant = c.tenant AND r.conv = c.conv;

WITH info AS (
    SELECT e.tenant, e.conv,
        bool_or(type = 'sla_breached' AND reason = 'first_response') AS first_breached,
        bool_or(type = 'sla_breached' AND reason = 'resolution') AS resolution_breached,
        (array_agg(score ORDER BY seq DESC) FILTER (WHERE type = 'rated' AND score BETWEEN 1 AND 5))[1] AS csat,
        -- array_agg of arrays makes a two-dimensional array: the last labels are looked up.
        (SELECT l.labels FROM events l WHERE l.tenant = e.tenant AND l.conv = e.conv AND l.type = 'labeled'
            ORDER BY l.seq DESC LIMIT 1) AS labels
    FROM events e
    WHERE type IN ('sla_breached', 'rated', 'labeled')
    GROUP BY e.tenant, e.conv
)
UPDATE report_conversations r SET sla_first_response_breached = i.first_breached,
    sla_resolution_breached = i.resolution_breached, csat = i.csat,
    labels = CASE WHEN cardinality(i.labels) > 0 THEN i.labels END
FROM info i WHERE r.tenant = i.tenant AND r.conv = i.conv;
