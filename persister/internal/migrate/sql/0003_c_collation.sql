-- Ids (tenant, conversation, user, message, event) are ASCII subject tokens or server-made
-- ids: they use the "C" collation, so every index on them compares bytes instead of calling
-- the locale. Changing only the collation of a text column keeps the rows (no table rewrite)
-- and rebuilds the indexes on it; on a database whose tables already use "C" (made by a
-- build whose edited 0001 had it) it is harmless.
ALTER TABLE tenants
    ALTER COLUMN id TYPE text COLLATE "C";

ALTER TABLE users
    ALTER COLUMN tenant TYPE text COLLATE "C",
    ALTER COLUMN id     TYPE text COLLATE "C";

ALTER TABLE conversations
    ALTER COLUMN tenant      TYPE text COLLATE "C",
    ALTER COLUMN id          TYPE text COLLATE "C",
    ALTER COLUMN customer_id TYPE text COLLATE "C",
    ALTER COLUMN agent_id    TYPE text COLLATE "C";

ALTER TABLE messages
    ALTER COLUMN tenant    TYPE text COLLATE "C",
    ALTER COLUMN conv      TYPE text COLLATE "C",
    ALTER COLUMN id        TYPE text COLLATE "C",
    ALTER COLUMN client_id TYPE text COLLATE "C",
    ALTER COLUMN sender_id TYPE text COLLATE "C";

ALTER TABLE events
    ALTER COLUMN id                TYPE text COLLATE "C",
    ALTER COLUMN tenant            TYPE text COLLATE "C",
    ALTER COLUMN conv              TYPE text COLLATE "C",
    ALTER COLUMN customer_id       TYPE text COLLATE "C",
    ALTER COLUMN agent_id          TYPE text COLLATE "C",
    ALTER COLUMN previous_agent_id TYPE text COLLATE "C",
    ALTER COLUMN actor_id          TYPE text COLLATE "C";

ALTER TABLE read_positions
    ALTER COLUMN tenant  TYPE text COLLATE "C",
    ALTER COLUMN user_id TYPE text COLLATE "C",
    ALTER COLUMN conv    TYPE text COLLATE "C";
