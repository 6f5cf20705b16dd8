-- Canned responses: a tenant's shared ones (owner '') and each agent's personal ones (owner
-- the agent's user id). A shortcut is unique per owner, so an agent's "/refund" may stand in
-- for the shared one; the unique index also serves the list of one caller (shared and own,
-- ordered by shortcut) as two range scans.
CREATE TABLE canned_responses (
    tenant     text NOT NULL,
    id         text NOT NULL,
    owner      text NOT NULL DEFAULT '',
    shortcut   text NOT NULL,
    title      text NOT NULL DEFAULT '',
    text       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id),
    CONSTRAINT canned_responses_shortcut UNIQUE (tenant, owner, shortcut)
);
