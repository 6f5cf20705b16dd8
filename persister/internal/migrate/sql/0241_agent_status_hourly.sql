-- agent_status_hourly rolls agent_status up per agent and UTC hour, so a report of a long range
-- reads one row per agent and hour instead of every status event (a year of a busy tenant:
-- about a million events). Each row holds what the report query (store/reports_occupancy.go)
-- sums over the part of the hour each event covers: from the event's time to the agent's next
-- event (events ordered by time, then id), at most the look-back of two hours: seconds
-- available, seconds away, and the time integrals of load and of capacity while not offline.
-- An event without a successor counts its whole two hours here; a report cuts it at now by
-- reading the hour that holds now from agent_status (only hours that ended are read from here).
CREATE TABLE agent_status_hourly (
    tenant      text NOT NULL,
    hour        timestamptz NOT NULL,
    agent       text NOT NULL,
    available_s float8 NOT NULL,
    away_s      float8 NOT NULL,
    load_s      float8 NOT NULL,
    capacity_s  float8 NOT NULL,
    -- The sums ride in the key's index, so a report's range is an index-only scan, whatever
    -- order the rows were written in (agent by agent when events are replayed in bulk).
    PRIMARY KEY (tenant, hour, agent) INCLUDE (available_s, away_s, load_s, capacity_s)
);

-- One agent's events in time order: the roll-up recomputes an agent's hours from them.
CREATE INDEX agent_status_agent_at ON agent_status (tenant, agent, at);

-- agent_status_rollup recomputes one agent's hours (UTC hours, whatever the session's zone)
-- from the one holding p_from to the one holding p_to, from the events stored: it replaces
-- them, so running it again, or after events came in any order or twice, gives the same rows.
-- Hours of no time get no row.
CREATE FUNCTION agent_status_rollup(p_tenant text, p_agent text, p_from timestamptz, p_to timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    h0 timestamptz := date_trunc('hour', p_from, 'UTC');
    h1 timestamptz := date_trunc('hour', p_to, 'UTC') + interval '1 hour';
BEGIN
    DELETE FROM agent_status_hourly WHERE tenant = p_tenant AND agent = p_agent AND hour >= h0 AND hour < h1;
    INSERT INTO agent_status_hourly (tenant, hour, agent, available_s, away_s, load_s, capacity_s)
    SELECT p_tenant, h.hour, p_agent,
        coalesce(sum(h.s) FILTER (WHERE sp.status = 'available'), 0),
        coalesce(sum(h.s) FILTER (WHERE sp.status = 'away'), 0),
        coalesce(sum(h.s * sp.load) FILTER (WHERE sp.status <> 'offline'), 0),
        coalesce(sum(h.s * sp.capacity) FILTER (WHERE sp.status <> 'offline'), 0)
    FROM (
        -- Events from two hours before h0 (their spans reach into it); a successor at or past
        -- h1 is not read, which changes no span inside [h0, h1).
        SELECT status, load, capacity, at AS starts,
            least(coalesce(lead(at) OVER (ORDER BY at, id), at + interval '2 hours'), at + interval '2 hours', h1) AS ends
        FROM agent_status
        WHERE tenant = p_tenant AND agent = p_agent AND at >= h0 - interval '2 hours' AND at < h1
    ) sp
    CROSS JOIN LATERAL (
        SELECT g AS hour, extract(epoch FROM least(sp.ends, g + interval '1 hour') - greatest(sp.starts, g))::float8 AS s
        FROM generate_series(date_trunc('hour', greatest(sp.starts, h0), 'UTC'), sp.ends - interval '1 microsecond', interval '1 hour') AS g
    ) h
    WHERE sp.ends > greatest(sp.starts, h0) AND h.s > 0
    GROUP BY h.hour;
END $$;

-- The persister keeps the roll-up in the transaction that stores the events, whatever
-- statement stores them (one row per statement or a whole batch): a new event changes its
-- agent's spans from its own time to two hours after it (the previous event's span is cut,
-- its own begins), so those hours are recomputed. Events already stored insert nothing and
-- recompute nothing. Writers take one transaction-level advisory lock first, so two batches
-- never recompute from snapshots that miss each other's events (status events are few: a
-- batch at a time is plenty), and no two batches can deadlock over agents.
CREATE FUNCTION agent_status_rollup_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('agent_status_hourly'));
    FOR r IN SELECT tenant, agent, min(at) AS first, max(at) AS last FROM inserted GROUP BY tenant, agent ORDER BY tenant, agent LOOP
        PERFORM agent_status_rollup(r.tenant, r.agent, r.first, r.last + interval '2 hours');
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER agent_status_rollup AFTER INSERT ON agent_status
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION agent_status_rollup_inserted();

-- Events already stored.
SELECT agent_status_rollup(tenant, agent, min(at), max(at) + interval '2 hours') FROM agent_status GROUP BY tenant, agent;
