-- A contact's label changes are events for platform consumers (contact_labeled on
-- fd.v1.evt.<tenant>.contact.<contact>), published by the persister once the change commits.
-- labels_rev counts the changes of the contact's labels (the event's revision and part of its
-- id, so a change published again is stored once); labels_event is the latest change's event
-- (frontdesk.v1.ConversationEvent, protobuf), kept with the labels in the same transaction so
-- a retried request publishes the very same event when the first publish did not get through.
ALTER TABLE contacts ADD COLUMN labels_rev bigint NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN labels_event bytea;
