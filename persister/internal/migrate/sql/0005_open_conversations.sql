-- conversations_open holds the conversations that are not closed: few next to a tenant's
-- history. Unread counts for a user (UnreadRequest without convs) join everything the user
-- ever took part in or read with it, so an agent with years of closed conversations costs a
-- hash join with this small index (or, for a user with little history, one probe of it per
-- conversation) rather than a lookup of every past conversation.
--
-- Built in the migration's transaction, which blocks writes to conversations while it runs,
-- as 0004's index did: events wait in their stream meanwhile, nothing is lost.
CREATE INDEX conversations_open ON conversations (tenant, id) WHERE state <> 'closed';
