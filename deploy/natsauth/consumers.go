package natsauth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// PlatformConsumer is a platform team's consumer of the streams (analytics, CRM sync,
// moderation; see proto/README.md, Adding a consumer). It gets a user of its own, UserName,
// that may read the listed streams through its own durable consumers and do nothing else: no
// publish on any Frontdesk subject, no stream or bucket change, no other durable, no KV or
// object store.
type PlatformConsumer struct {
	// Name identifies the team's consumer: lowercase letters, digits and '-', starting with a
	// letter. It names the user and prefixes its durables.
	Name string
	// Streams are the streams it reads (ConsumerStreams).
	Streams []string
}

// ConsumerStreams are the streams a platform consumer may be given. Buckets and the object
// store are not among them: they are the services' working state, not a feed.
var ConsumerStreams = []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads,
	subjects.StreamCommands, subjects.StreamDeadLetters}

// ConsumerUserPrefix prefixes a platform consumer's user name, so it cannot be taken for a
// service's.
const ConsumerUserPrefix = "consumer-"

// UserName is the consumer's NATS user and credentials file name: consumer-<name>.
func (c PlatformConsumer) UserName() string { return ConsumerUserPrefix + c.Name }

// Durable is the name of the consumer's durable on stream: <name>-<stream without FD_, in
// lowercase>, e.g. analytics-events on FD_EVENTS. Subject permissions match whole tokens only
// (a durable name is one token of the JetStream API subject), so "any durable starting with
// analytics-" cannot be granted: each stream gets this one name.
func (c PlatformConsumer) Durable(stream string) string {
	return c.Name + "-" + strings.ToLower(strings.TrimPrefix(stream, "FD_"))
}

// ParseConsumer reads the generator's -consumer value, name:STREAM[,STREAM...], e.g.
// analytics:FD_EVENTS,FD_MESSAGES.
func ParseConsumer(s string) (PlatformConsumer, error) {
	name, list, ok := strings.Cut(s, ":")
	if !ok || list == "" {
		return PlatformConsumer{}, fmt.Errorf("consumer %q: want name:STREAM[,STREAM...]", s)
	}
	c := PlatformConsumer{Name: name, Streams: strings.Split(list, ",")}
	return c, c.validate()
}

// reserved are names a platform consumer may not take: its durables would be, or be taken for,
// a service's.
func reserved(name string) bool {
	if slices.Contains(Services, name) || name == Provisioner || name == Admin {
		return true
	}
	for _, ds := range Durables {
		for _, d := range ds {
			if d.Durable == name || strings.HasPrefix(d.Durable, name+"-") {
				return true
			}
		}
	}
	return false
}

func (c PlatformConsumer) validate() error {
	if c.Name == "" || len(c.Name) > 32 || c.Name[0] < 'a' || c.Name[0] > 'z' {
		return fmt.Errorf("consumer name %q: 1 to 32 lowercase letters, digits or '-', starting with a letter", c.Name)
	}
	for _, r := range c.Name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Errorf("consumer name %q: 1 to 32 lowercase letters, digits or '-', starting with a letter", c.Name)
		}
	}
	if reserved(c.Name) {
		return fmt.Errorf("consumer name %q is reserved: it is a service's, or its durables would be", c.Name)
	}
	if len(c.Streams) == 0 {
		return fmt.Errorf("consumer %s: no stream", c.Name)
	}
	for i, s := range c.Streams {
		if !slices.Contains(ConsumerStreams, s) {
			return fmt.Errorf("consumer %s: stream %q is not one of %s", c.Name, s, strings.Join(ConsumerStreams, ", "))
		}
		if slices.Contains(c.Streams[:i], s) {
			return fmt.Errorf("consumer %s: stream %s listed twice", c.Name, s)
		}
	}
	return nil
}

// ForConsumer returns the permissions of a platform consumer's user: look its streams up, create
// (and update) its own durable on each, read its info, pull from it and ack; watch the
// max-deliveries advisories of its durables and read the message they name back (dead-lettering
// is then the team's own: it may not publish on the dead-letter stream); its account info and
// replies on _INBOX.>. Nothing else is allowed, so every other subject, stream, durable, bucket
// and object store is refused by the server.
func ForConsumer(c PlatformConsumer) (Permissions, error) {
	if err := c.validate(); err != nil {
		return Permissions{}, err
	}
	b := &builder{}
	b.subscribe(inbox)
	b.publish(accountInfo()...)
	for _, s := range c.Streams {
		b.use(s, s)
		b.publish(durable(s, c.Durable(s))...)
		b.subscribe(maxDeliveriesAdvisory(s, c.Durable(s)))
		b.publish(directGet(s)...)
	}
	return Permissions{
		Publish:   Rules{Allow: uniq(b.pub)},
		Subscribe: Rules{Allow: uniq(b.sub)},
		Uses:      uniq(b.uses),
	}, nil
}
