package subjects

// Agents' status events (frontdesk.v1.AgentStatusEvent), for reports of agents' time available,
// away and occupancy. They are stored in StreamEvents beside the conversation events but under
// a subject tree of their own, so a consumer filtering on AllEvents (conversation events only,
// frontdesk.v1.ConversationEvent) never meets one.

// AgentStatus is the subject of an agent's status events (stream StreamEvents).
// Publisher: dispatcher.
func AgentStatus(tenant, agent string) string { return join(Prefix, "agentevt", tenant, agent) }

// AllAgentStatus matches every agent status event (stream binding, consumer filter).
func AllAgentStatus() string { return join(Prefix, "agentevt", ">") }

// DurablePersisterOccupancy is the persister's durable consumer of the agent status events.
const DurablePersisterOccupancy = "persister-occupancy"
