-- Report facts from the events that change no state: the dispatcher's service-level breaches
-- (sla_breached, reason first_response or resolution), the customer's rating (rated, score
-- 1-5) and the conversation's labels (labeled, all of them after the change). The events keep
-- the score and labels they carry, so the facts are recomputed from the stored events alone
-- (reports.Fold), like the other event columns.
ALTER TABLE events ADD COLUMN score smallint, ADD COLUMN labels text[];

ALTER TABLE report_conversations
    ADD COLUMN sla_first_response_breached boolean NOT NULL DEFAULT false,
    ADD COLUMN sla_resolution_breached boolean NOT NULL DEFAULT false,
    -- csat is the last rating's score (1-5); NULL: not rated.
    ADD COLUMN csat smallint,
    -- labels are the labels of the last labeled event, NULL for none (a NULL costs a bit in
    -- the row's null bitmap, an empty array some 20 bytes on every row a report reads); a
    -- report's label filter reads them within the (tenant, opened_at) range it scans anyway.
    ADD COLUMN labels text[];
