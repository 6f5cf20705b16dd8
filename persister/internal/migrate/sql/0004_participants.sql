-- conversation_participants lists who took part in each conversation: its customer, every
-- agent it was assigned or transferred to (conversations.agent_id keeps only the last one),
-- and every person who wrote in it. It answers ConversationsRequest, a user's past
-- conversations, so an agent who handled a conversation before it was transferred away still
-- finds it. Bots and the system are not participants: they take part in nearly every
-- conversation, and nobody asks for theirs.
--
-- opened_at copies conversations.opened_at, so that one index range scan pages a user's
-- conversations newest first. The persister sets it in the transaction that writes the
-- conversation's events; it is NULL while the record has no event of the conversation (a
-- message may land before the event that opens it), and such rows are not listed.
CREATE TABLE conversation_participants (
    tenant    text COLLATE "C" NOT NULL,
    conv      text COLLATE "C" NOT NULL,
    user_id   text COLLATE "C" NOT NULL,
    opened_at timestamptz,
    PRIMARY KEY (tenant, conv, user_id)
);

-- Everyone the record already knows: the customers and agents its events named (an
-- assignment names the new agent, a transfer also the previous one), the conversations'
-- customer and last agent, and the senders of the messages it still holds.
INSERT INTO conversation_participants (tenant, conv, user_id, opened_at)
SELECT p.tenant, p.conv, p.user_id, c.opened_at
FROM (
    SELECT tenant, id AS conv, customer_id AS user_id FROM conversations WHERE customer_id <> ''
    UNION
    SELECT tenant, id, agent_id FROM conversations WHERE agent_id <> ''
    UNION
    SELECT tenant, conv, customer_id FROM events WHERE customer_id <> ''
    UNION
    SELECT tenant, conv, agent_id FROM events WHERE agent_id <> ''
    UNION
    SELECT tenant, conv, previous_agent_id FROM events WHERE previous_agent_id <> ''
    UNION
    SELECT tenant, conv, sender_id FROM messages
        WHERE sender_id <> '' AND sender_role NOT IN ('bot', 'system')
) p
LEFT JOIN conversations c ON c.tenant = p.tenant AND c.id = p.conv;

-- Made after the backfill, which is then one sort instead of one insertion per row.
CREATE INDEX conversation_participants_user
    ON conversation_participants (tenant, user_id, opened_at DESC, conv);
