-- agent_seq is the FD_EVENTS sequence of the event that named agent_id: the last agent
-- survives later events that name none (requeued, closed) but not a later assignment.
-- IF NOT EXISTS: databases made by a build whose 0001 already had the column (0001 was
-- edited after release, now restored) take this migration as a no-op.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS agent_seq bigint NOT NULL DEFAULT 0;
