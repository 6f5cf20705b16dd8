-- Offers an agent declined or let expire (offer_declined, offer_missed events, published by the
-- dispatcher) are counted per agent over a range of time: this partial index holds only those
-- events, so a report reads a range of it rather than the tenant's events.
CREATE INDEX events_offers ON events (tenant, at) WHERE type IN ('offer_declined', 'offer_missed');
