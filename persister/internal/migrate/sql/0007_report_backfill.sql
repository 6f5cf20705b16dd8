-- Report facts of the conversations recorded before 0006: the same rows the persister keeps
-- from then on (store.refreshFacts and reports.Fold for the event columns, the message batch
-- for the message columns), computed in SQL from the events and messages already stored.
-- An event's state after it is its state field (the dispatcher and gateway always set it);
-- the type stands in for events without one.
WITH ev AS (
    SELECT tenant, conv, seq, type, reason, queue, customer_id, agent_id, at,
        CASE WHEN state <> '' THEN state
             WHEN type IN ('queued', 'requeued') THEN 'queued'
             WHEN type = 'assigned' THEN 'assigned'
             WHEN type = 'closed' THEN 'closed'
             ELSE '' END AS after
    FROM events
), steps AS (
    SELECT *, coalesce(lag(after) OVER w, '') AS before
    FROM ev WINDOW w AS (PARTITION BY tenant, conv ORDER BY seq)
), stays AS (
    -- stay numbers the entries into a queue; the event that leaves the queue belongs to the
    -- stay it ends.
    SELECT *, count(*) FILTER (WHERE before <> 'queued' AND after = 'queued') OVER w AS stay
    FROM steps WINDOW w AS (PARTITION BY tenant, conv ORDER BY seq)
), waits AS (
    SELECT *, min(at) FILTER (WHERE before <> 'queued' AND after = 'queued') OVER (PARTITION BY tenant, conv, stay) AS entered
    FROM stays
), facts AS (
    SELECT tenant, conv,
        min(at) AS opened_at,
        coalesce((array_agg(customer_id ORDER BY seq DESC) FILTER (WHERE customer_id <> ''))[1], '') AS customer_id,
        coalesce((array_agg(queue ORDER BY seq DESC) FILTER (WHERE queue <> ''))[1], '') AS queue,
        coalesce((array_agg(agent_id ORDER BY seq DESC) FILTER (WHERE agent_id <> ''))[1], '') AS agent_id,
        (array_agg(CASE WHEN type = 'opened' THEN 'direct' WHEN reason = '' THEN 'other' ELSE reason END ORDER BY seq)
            FILTER (WHERE after = 'queued'))[1] AS handoff_reason,
        (array_agg(at ORDER BY seq) FILTER (WHERE after = 'queued'))[1] AS handed_off_at,
        (array_agg(at ORDER BY seq) FILTER (WHERE after = 'assigned'))[1] AS assigned_at,
        count(*) FILTER (WHERE type = 'transferred') AS transfers,
        sum(greatest(date_part('epoch', at - entered), 0)) FILTER (WHERE before = 'queued' AND after <> 'queued') AS queue_wait_s,
        (array_agg(at ORDER BY seq DESC) FILTER (WHERE after = 'closed'))[1] AS closed_at,
        -- Closed while queued, before any assignment (an assignment after a close cannot be).
        coalesce((array_agg(before = 'queued' ORDER BY seq DESC) FILTER (WHERE after = 'closed'))[1], false)
            AND count(*) FILTER (WHERE after = 'assigned') = 0 AS abandoned,
        (array_agg(at ORDER BY seq) FILTER (WHERE type = 'message_left'))[1] AS left_at
    FROM waits
    GROUP BY tenant, conv
)
INSERT INTO report_conversations AS r (tenant, conv, opened_at, customer_id, queue, agent_id, handoff_reason,
    handed_off_at, assigned_at, transfers, queue_wait_s, closed_at, abandoned, left_at)
SELECT * FROM facts
ON CONFLICT (tenant, conv) DO UPDATE SET
    opened_at = EXCLUDED.opened_at, customer_id = EXCLUDED.customer_id, queue = EXCLUDED.queue,
    agent_id = EXCLUDED.agent_id, handoff_reason = EXCLUDED.handoff_reason, handed_off_at = EXCLUDED.handed_off_at,
    assigned_at = EXCLUDED.assigned_at, transfers = EXCLUDED.transfers, queue_wait_s = EXCLUDED.queue_wait_s,
    closed_at = EXCLUDED.closed_at, abandoned = EXCLUDED.abandoned, left_at = EXCLUDED.left_at;

INSERT INTO report_conversations AS r (tenant, conv, messages, first_customer_at, first_bot_at, first_agent_at)
SELECT tenant, conv, count(*) FILTER (WHERE sender_role <> 'system'),
    min(created_at) FILTER (WHERE sender_role = 'customer'),
    min(created_at) FILTER (WHERE sender_role = 'bot'),
    min(created_at) FILTER (WHERE sender_role IN ('agent', 'supervisor'))
FROM messages GROUP BY tenant, conv
ON CONFLICT (tenant, conv) DO UPDATE SET
    messages = EXCLUDED.messages, first_customer_at = EXCLUDED.first_customer_at,
    first_bot_at = EXCLUDED.first_bot_at, first_agent_at = EXCLUDED.first_agent_at;

UPDATE report_conversations r SET left_answered_at = (
    SELECT m.created_at FROM messages m
    WHERE m.tenant = r.tenant AND m.conv = r.conv AND m.sender_role IN ('agent', 'supervisor') AND m.created_at >= r.left_at
    ORDER BY m.seq LIMIT 1)
WHERE r.left_at IS NOT NULL;

UPDATE report_conversations r SET reopened = true
WHERE r.customer_id <> '' AND r.closed_at IS NOT NULL AND EXISTS (
    SELECT 1 FROM report_conversations n
    WHERE n.tenant = r.tenant AND n.customer_id = r.customer_id AND n.opened_at > r.closed_at
        AND n.opened_at <= r.closed_at + interval '24 hours');
