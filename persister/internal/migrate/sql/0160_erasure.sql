-- erasures audits per-person erase requests (GDPR): who asked, when, what each store removed.
-- A row without finished_at is an erase still to finish: the next request for the same
-- customer, or the persister's next retention run, resumes it. convs and attachments are what
-- the first attempt found, kept so a resumed erase still knows them after their rows are gone.
CREATE TABLE erasures (
    id           text PRIMARY KEY,
    tenant       text COLLATE "C" NOT NULL,
    user_id      text COLLATE "C" NOT NULL,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    attempts     integer NOT NULL DEFAULT 0,
    convs        text[] NOT NULL DEFAULT '{}',
    counts       jsonb NOT NULL DEFAULT '{}',
    error        text NOT NULL DEFAULT ''
);
-- One erase at a time per customer.
CREATE UNIQUE INDEX erasures_unfinished ON erasures (tenant, user_id) WHERE finished_at IS NULL;

-- Retention removes the conversation and participation keys of closed conversations older
-- than the tenant's retention.days from the buckets, and marks them here so each is done once.
ALTER TABLE conversations ADD COLUMN bus_expired_at timestamptz;
CREATE INDEX conversations_closed_bus ON conversations (tenant, closed_at)
    WHERE bus_expired_at IS NULL AND closed_at IS NOT NULL;
