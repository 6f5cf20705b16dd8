-- transcript_mails are the transcripts customers asked for by email (transcript_requested
-- events), one row per conversation and address, written in the transaction that stores the
-- event (a replayed request is the same row). The mail sender takes a row once its
-- conversation is closed; status moves waiting -> sending -> sent, back to waiting with a
-- later next_attempt_at after a transient SMTP failure, or to failed or limited. A row left in
-- sending (the process died while the relay had the mail) is never sent again: a transcript is
-- sent at most once.
CREATE TABLE transcript_mails (
    tenant          text COLLATE "C" NOT NULL,
    conv            text COLLATE "C" NOT NULL,
    -- email is the address in lower case.
    email           text COLLATE "C" NOT NULL,
    requested_at    timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'waiting',
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    -- sent_at is when the relay accepted it (or, while sending, when the attempt started).
    sent_at         timestamptz,
    error           text NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, conv, email)
);
CREATE INDEX transcript_mails_due ON transcript_mails (next_attempt_at) WHERE status = 'waiting';
-- The rate limits count a tenant's and a recipient's recent mails.
CREATE INDEX transcript_mails_recent ON transcript_mails (tenant, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX transcript_mails_recipient ON transcript_mails (tenant, email, sent_at) WHERE sent_at IS NOT NULL;
