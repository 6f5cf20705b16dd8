-- Frontdesk record, version 1.
-- No foreign keys between the tables: the streams deliver messages, events and read
-- positions independently and in any interleaving (several replicas, redeliveries), so a
-- message may land before the event that opens its conversation.

CREATE TABLE tenants (
    id             text PRIMARY KEY,
    name           text NOT NULL DEFAULT '',
    retention_days integer NOT NULL DEFAULT 0,
    retention_mode text NOT NULL DEFAULT 'delete',
    -- anonymized_until is the created_at up to which retention anonymized the messages.
    anonymized_until timestamptz,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- users are customers and agents (and the bot/system senders) as seen in the streams.
CREATE TABLE users (
    tenant     text NOT NULL,
    id         text NOT NULL,
    role       text NOT NULL DEFAULT '',
    name       text NOT NULL DEFAULT '',
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (tenant, id)
);

CREATE TABLE conversations (
    tenant         text NOT NULL,
    id             text NOT NULL,
    state          text NOT NULL DEFAULT '',
    customer_id    text NOT NULL DEFAULT '',
    customer_name  text NOT NULL DEFAULT '',
    agent_id       text NOT NULL DEFAULT '',
    agent_name     text NOT NULL DEFAULT '',
    queue          text NOT NULL DEFAULT '',
    tags           text[] NOT NULL DEFAULT '{}',
    summary        text NOT NULL DEFAULT '',
    revision       bigint NOT NULL DEFAULT 0,
    -- last_event_seq is the FD_EVENTS sequence of the newest event applied: an older event
    -- (redelivered, or from another replica's slower batch) never overwrites a newer state.
    last_event_seq bigint NOT NULL DEFAULT 0,
    opened_at      timestamptz,
    queued_at      timestamptz,
    assigned_at    timestamptz,
    closed_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);
CREATE INDEX conversations_customer ON conversations (tenant, customer_id, opened_at DESC);
CREATE INDEX conversations_agent ON conversations (tenant, agent_id, opened_at DESC);

CREATE TABLE messages (
    tenant          text NOT NULL,
    conv            text NOT NULL,
    -- seq is the FD_MESSAGES stream sequence (the protocol's seq).
    seq             bigint NOT NULL,
    id              text NOT NULL,
    client_id       text NOT NULL DEFAULT '',
    sender_id       text NOT NULL DEFAULT '',
    sender_role     text NOT NULL DEFAULT '',
    sender_name     text NOT NULL DEFAULT '',
    kind            text NOT NULL DEFAULT '',
    text            text NOT NULL DEFAULT '',
    attachment_id   text NOT NULL DEFAULT '',
    attachment_url  text NOT NULL DEFAULT '',
    attachment_type text NOT NULL DEFAULT '',
    attachment_size bigint NOT NULL DEFAULT 0,
    attachment_name text NOT NULL DEFAULT '',
    reply_to        text NOT NULL DEFAULT '',
    revision        bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    anonymized_at   timestamptz,
    -- search is to_tsvector('simple', text plus CJK unigrams and bigrams), made by the
    -- persister: 'simple' does not stem, so it treats every language alike, and the n-grams
    -- make Chinese (written without spaces) searchable by word.
    search          tsvector,
    PRIMARY KEY (tenant, conv, seq),
    CONSTRAINT messages_id_key UNIQUE (id)
);
CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_created ON messages (tenant, created_at);

CREATE TABLE events (
    id                text PRIMARY KEY,
    tenant            text NOT NULL,
    conv              text NOT NULL,
    seq               bigint NOT NULL,
    type              text NOT NULL,
    state             text NOT NULL DEFAULT '',
    revision          bigint NOT NULL DEFAULT 0,
    customer_id       text NOT NULL DEFAULT '',
    agent_id          text NOT NULL DEFAULT '',
    previous_agent_id text NOT NULL DEFAULT '',
    actor_id          text NOT NULL DEFAULT '',
    actor_role        text NOT NULL DEFAULT '',
    queue             text NOT NULL DEFAULT '',
    reason            text NOT NULL DEFAULT '',
    at                timestamptz NOT NULL,
    stored_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_conv ON events (tenant, conv, seq);

CREATE TABLE read_positions (
    tenant     text NOT NULL,
    user_id    text NOT NULL,
    conv       text NOT NULL,
    seq        bigint NOT NULL,
    at         timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_id, conv)
);
