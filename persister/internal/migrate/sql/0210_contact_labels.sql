-- Labels agents set on a contact itself (the tenant's label names, at most 20), apart from the
-- labels of the contact's conversations. Erased with the contact.
ALTER TABLE contacts ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
