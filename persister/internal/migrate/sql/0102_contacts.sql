-- Contacts: one row per customer of a tenant (the customer's user id, which for a signed-in
-- customer is the same on every device). Attributes come from the customer token's claims or
-- the pre-chat form; name, email, phone and notes may be edited by agents (edited marks the
-- fields an agent set, which a later token no longer overwrites). pages are the last pages
-- the customer came from, newest first.
CREATE TABLE contacts (
    tenant     text NOT NULL,
    id         text NOT NULL,
    name       text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT '',
    phone      text NOT NULL DEFAULT '',
    notes      text NOT NULL DEFAULT '',
    attributes jsonb NOT NULL DEFAULT '{}',
    pages      text[] NOT NULL DEFAULT '{}',
    edited     boolean NOT NULL DEFAULT false,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
);
