-- A customer's satisfaction rating of a conversation (the rated event), at most one: the
-- first stored wins, so a redelivered event changes nothing.
ALTER TABLE conversations
    ADD COLUMN rating_score   smallint,
    ADD COLUMN rating_scale   text NOT NULL DEFAULT '',
    ADD COLUMN rating_comment text NOT NULL DEFAULT '',
    ADD COLUMN rated_at       timestamptz;
-- Ratings of a tenant over a time range (the supervisor's figures) without a scan.
CREATE INDEX conversations_rated ON conversations (tenant, rated_at) WHERE rated_at IS NOT NULL;
