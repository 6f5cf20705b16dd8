// The protocol's names, as proto/frames/names.go defines them (a Go test keeps the two equal):
// pages compare against these, never against string literals.

export const Subprotocol = Object.freeze({
  JSON: 'frontdesk.v1.json',
  Proto: 'frontdesk.v1.proto',
});

export const Type = Object.freeze({
  Send: 'send',
  Sync: 'sync',
  History: 'history',
  Typing: 'typing',
  Read: 'read',
  Handoff: 'handoff',
  Status: 'status',
  Transfer: 'transfer',
  Close: 'close',
  Ping: 'ping',
  Assist: 'assist',
  Accept: 'accept',
  Decline: 'decline',
  LeaveMessage: 'leave_message',
  ToBot: 'to_bot',
  Label: 'label',
  Canned: 'canned',
  CannedSave: 'canned_save',
  CannedDelete: 'canned_delete',
  Search: 'search',
  Contact: 'contact',
  ContactUpdate: 'contact_update',
  ContactLabel: 'contact_label',
  Prechat: 'prechat',
  Welcome: 'welcome',
  Ack: 'ack',
  Message: 'message',
  Queued: 'queued',
  Assigned: 'assigned',
  State: 'state',
  Synced: 'synced',
  Presence: 'presence',
  Pong: 'pong',
  Error: 'error',
  Suggestion: 'suggestion',
  Notice: 'notice',
  Offer: 'offer',
  Labels: 'labels',
  Note: 'note',
  Notes: 'notes',
  Rate: 'rate',
  Rated: 'rated',
  Board: 'board',
  Roster: 'roster',
  SLA: 'sla',
  Transcript: 'transcript',
});

export const Kind = Object.freeze({
  Text: 'text',
  Image: 'image',
  Audio: 'audio',
  File: 'file',
  Transcript: 'transcript',
});

export const Role = Object.freeze({
  Customer: 'customer',
  Agent: 'agent',
  Supervisor: 'supervisor',
  Bot: 'bot',
  System: 'system',
});

export const State = Object.freeze({
  Bot: 'bot',
  Queued: 'queued',
  Assigned: 'assigned',
  Closed: 'closed',
});

export const Status = Object.freeze({
  Available: 'available',
  Away: 'away',
  Offline: 'offline',
});

export const Code = Object.freeze({
  BadFrame: 'bad_frame',
  UnknownConversation: 'unknown_conversation',
  Forbidden: 'forbidden',
  TooLarge: 'too_large',
  RateLimited: 'rate_limited',
  Internal: 'internal',
  QuotaExceeded: 'quota_exceeded',
  Overloaded: 'overloaded',
});

export const Close = Object.freeze({
  Normal: 1000,
  PolicyViolation: 1008,
  TooBig: 1009,
  ServerError: 1011,
  Restarting: 1012,
  TryAgainLater: 1013,
  TokenExpired: 4001,
  SessionReplaced: 4002,
  TooManyConnections: 4003,
});

export const Scale = Object.freeze({
  Five: 'five',
  Thumbs: 'thumbs',
});

export const Action = Object.freeze({
  LeaveMessage: 'leave_message',
  Bot: 'bot',
  Human: 'human',
});

// Partials are the forms of streamed bot text a client may ask for when connecting
// (?partials=delta).
export const Partials = Object.freeze({
  Delta: 'delta',
});

export const SLA = Object.freeze({
  AtRisk: 'at_risk',
  Breached: 'breached',
  FirstResponse: 'first_response',
  Resolution: 'resolution',
});
