-- Tombstones of per-person erases (GDPR). The erase writes them in the transaction that
-- deletes the customer's rows, under the tenant's erase lock (exclusive); every ingest write
-- takes that lock shared before it writes and skips what a tombstone covers. So a message,
-- event, read position or note of an erased conversation that the persister took from a
-- stream before the purge (or that was published after it) is either committed before the
-- delete, and deleted with the rest, or meets the tombstone and is dropped: the erase never
-- races a batch in flight.
--
-- A conversation's tombstone covers every row of it (conversation ids are never reused),
-- participants and the senders of its messages included. A contact's covers the customer's
-- contact and user rows and messages dated at or before the erase: a customer who comes back
-- after it starts a new record.
--
-- Retention drops tombstones once the streams can no longer hold anything they cover (the
-- ingest streams' max age after the erase).
CREATE TABLE erased_conversations (
    tenant    text COLLATE "C" NOT NULL,
    conv      text COLLATE "C" NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, conv)
);
CREATE INDEX erased_conversations_at ON erased_conversations (erased_at);

CREATE TABLE erased_contacts (
    tenant    text COLLATE "C" NOT NULL,
    user_id   text COLLATE "C" NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_id)
);
CREATE INDEX erased_contacts_at ON erased_contacts (erased_at);
