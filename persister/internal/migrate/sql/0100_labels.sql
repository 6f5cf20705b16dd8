-- Labels on conversations. conversations.tags (0001, unused until now) holds a conversation's
-- labels as its newest `labeled` event says; labels_seq is that event's FD_EVENTS sequence,
-- so an older event (redelivered, or from another replica's slower batch) never overwrites a
-- newer list. The GIN index serves the label filter of searches and of the console's lists.
ALTER TABLE conversations ADD COLUMN labels_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX conversations_tags ON conversations USING gin (tags);
