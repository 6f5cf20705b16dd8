-- report_conversations holds one row of facts per conversation, from which the reports
-- (ReportRequest) are computed: counts, exact medians and p90s over an index range of
-- (tenant, opened_at), series by hour or day and the weekday x hour heat map in any time zone.
--
-- The persister keeps the rows in the transactions that store the events and messages, so
-- the facts commit with the record and stay correct when batches are redelivered or replayed:
--   * the event columns are recomputed from all of the conversation's stored events whenever
--     a new one is stored (a replayed event inserts nothing and changes nothing);
--   * the message columns add only the messages a batch actually inserted (messages are
--     unique on id), and the first times merge with LEAST.
-- opened_at is NULL while the record has no event of the conversation; such rows are in no
-- report.
CREATE TABLE report_conversations (
    tenant            text COLLATE "C" NOT NULL,
    conv              text COLLATE "C" NOT NULL,
    opened_at         timestamptz,
    customer_id       text COLLATE "C" NOT NULL DEFAULT '',
    -- queue and agent_id are the last ones the conversation had.
    queue             text COLLATE "C" NOT NULL DEFAULT '',
    agent_id          text COLLATE "C" NOT NULL DEFAULT '',
    -- handoff_reason is why it first left the bot for a queue; NULL: never handed off.
    handoff_reason    text,
    handed_off_at     timestamptz,
    assigned_at       timestamptz,
    transfers         integer NOT NULL DEFAULT 0,
    -- queue_wait_s sums the completed stays in a queue; NULL: none.
    queue_wait_s      double precision,
    closed_at         timestamptz,
    -- abandoned: closed while queued, before any agent took it.
    abandoned         boolean NOT NULL DEFAULT false,
    left_at           timestamptz,
    left_answered_at  timestamptz,
    -- reopened: closed, and the customer opened another conversation within 24 hours.
    reopened          boolean NOT NULL DEFAULT false,
    messages          integer NOT NULL DEFAULT 0,
    first_customer_at timestamptz,
    first_bot_at      timestamptz,
    first_agent_at    timestamptz,
    PRIMARY KEY (tenant, conv)
) WITH (fillfactor = 70);
-- fillfactor 70: every message batch updates its conversations' rows (count, first times,
-- none of them indexed); free room on the page lets Postgres update in place (HOT) instead of
-- adding entries to every index (measured: Postgres CPU of ingest +27% at 100, +12% at 70).
CREATE INDEX report_conversations_opened ON report_conversations (tenant, opened_at);
-- A customer's conversations in time order, to mark the one they came back after.
CREATE INDEX report_conversations_customer ON report_conversations (tenant, customer_id, opened_at);
