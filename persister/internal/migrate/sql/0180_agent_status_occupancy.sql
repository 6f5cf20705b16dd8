-- agent_status holds the agents' status events (frontdesk.v1.AgentStatusEvent, published by
-- the dispatcher on fd.v1.agentevt.<tenant>.<agent> in FD_EVENTS): each row states an agent's
-- status, load and capacity from at until the agent's next row. Reports turn them into time
-- available, time away and occupancy. The event id is the key, so a replay or a redelivery
-- inserts nothing, and a restatement of the same state splits an interval without changing
-- any sum: the figures stay right however often events arrive.
CREATE TABLE agent_status (
    tenant   text NOT NULL,
    id       text NOT NULL,
    agent    text NOT NULL,
    status   text NOT NULL,
    load     integer NOT NULL DEFAULT 0,
    capacity integer NOT NULL DEFAULT 0,
    at       timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);
-- A report reads one range of a tenant's events (with a look-back before it), in each agent's
-- order; retention deletes by age.
CREATE INDEX agent_status_at ON agent_status (tenant, at);
