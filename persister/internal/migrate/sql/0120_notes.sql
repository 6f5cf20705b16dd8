-- notes are agents' and supervisors' private notes (stream FD_NOTES), kept apart from
-- messages so that no query made for a customer (history, sync, unread, reports) can return
-- one: those read messages only. seq is the FD_NOTES sequence, its own numbering.
CREATE TABLE notes (
    tenant      text NOT NULL,
    conv        text NOT NULL,
    seq         bigint NOT NULL,
    id          text NOT NULL,
    author_id   text NOT NULL DEFAULT '',
    author_role text NOT NULL DEFAULT '',
    author_name text NOT NULL DEFAULT '',
    text        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT now(),
    -- search is made like messages.search (store.SearchDocument): 'simple' words plus CJK
    -- unigrams and bigrams.
    search      tsvector,
    PRIMARY KEY (tenant, conv, seq),
    CONSTRAINT notes_id_key UNIQUE (id)
);
CREATE INDEX notes_search ON notes USING gin (search);
-- Retention walks a tenant's notes by age.
CREATE INDEX notes_created ON notes (tenant, created_at);
