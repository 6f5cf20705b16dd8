package tenants

import (
	"google.golang.org/protobuf/proto"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Enumerated values of tenant settings.
const (
	PolicyLeastBusy    = "least_busy"
	PolicyRoundRobin   = "round_robin"
	RetentionDelete    = "delete"
	RetentionAnonymize = "anonymize"
	// DefaultQueue is the queue a tenant without queues gets.
	DefaultQueue = "default"
)

// Default values of tenant settings: the one place they are written. tenant.proto documents
// the same numbers.
const (
	DefaultMaxFrameBytes         = 65536
	DefaultMessagesPerSecond     = 10
	DefaultBurst                 = 20
	DefaultUserMessagesPerSecond = 20
	DefaultMaxConnectionsPerUser = 10
	DefaultAgentOfflineGraceS    = 30
	DefaultOfferTimeoutS         = 20
	DefaultMaxMissedOffers       = 3
	DefaultHookTimeoutMs         = 200
	DefaultHandoffAfterFailures  = 2
	DefaultHistoryTurns          = 10
	DefaultModelTimeoutS         = 30
	DefaultModelMaxConcurrency   = 8
	DefaultAttachmentMaxBytes    = 10 << 20
	DefaultLocale                = "en"
)

// DefaultModelMaxTokens bounds a model reply when the tenant sets no max_tokens.
const DefaultModelMaxTokens = 512

// DefaultMaxAudioSeconds is the longest voice message when a tenant sets none.
const DefaultMaxAudioSeconds = 120

// DefaultAttachmentTypes are the MIME types accepted when a tenant lists none: images, PDF,
// audio and plain text.
func DefaultAttachmentTypes() []string {
	return []string{
		"image/png", "image/jpeg", "image/gif", "image/webp",
		"application/pdf",
		"audio/mpeg", "audio/ogg", "audio/wav", "audio/webm", "audio/mp4",
		"text/plain",
	}
}

// Defaults returns a copy of t with every zero setting that has a documented default filled
// in; t is not modified. Blocks that switch a feature on stay absent when absent: no bot block
// means no bot, no hours means always open. Store.Get returns tenants with defaults applied,
// so services read settings directly instead of checking for zero.
func Defaults(t *frontdeskv1.Tenant) *frontdeskv1.Tenant {
	t = proto.Clone(t).(*frontdeskv1.Tenant)

	if t.Limits == nil {
		t.Limits = &frontdeskv1.Limits{}
	}
	l := t.Limits
	setIfZero(&l.MaxFrameBytes, DefaultMaxFrameBytes)
	setIfZero(&l.MessagesPerSecond, DefaultMessagesPerSecond)
	setIfZero(&l.Burst, DefaultBurst)
	setIfZero(&l.UserMessagesPerSecond, DefaultUserMessagesPerSecond)
	setIfZero(&l.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)

	setIfZero(&t.AgentOfflineGraceS, DefaultAgentOfflineGraceS)
	setIfZero(&t.Locale, DefaultLocale)

	if len(t.Queues) == 0 {
		t.Queues = []*frontdeskv1.Queue{{Name: DefaultQueue}}
	}

	if t.Routing == nil {
		t.Routing = &frontdeskv1.Routing{}
	}
	r := t.Routing
	setIfZero(&r.Policy, PolicyLeastBusy)
	setIfZero(&r.OfferTimeoutS, DefaultOfferTimeoutS)
	setIfZero(&r.MaxMissedOffers, DefaultMaxMissedOffers)
	setIfZero(&r.HookTimeoutMs, DefaultHookTimeoutMs)

	if b := t.Bot; b != nil {
		setIfZero(&b.HandoffAfterFailures, DefaultHandoffAfterFailures)
		setIfZero(&b.HistoryTurns, DefaultHistoryTurns)
		if b.Model == nil {
			b.Model = &frontdeskv1.Model{}
		}
		setIfZero(&b.Model.TimeoutS, DefaultModelTimeoutS)
		setIfZero(&b.Model.MaxConcurrency, DefaultModelMaxConcurrency)
		// A bound on every reply's cost: a model left to its own default can write pages.
		setIfZero(&b.Model.MaxTokens, DefaultModelMaxTokens)
	}

	if t.Retention == nil {
		t.Retention = &frontdeskv1.Retention{}
	}
	setIfZero(&t.Retention.Mode, RetentionDelete)

	if t.Attachments == nil {
		t.Attachments = &frontdeskv1.Attachments{}
	}
	setIfZero(&t.Attachments.MaxBytes, DefaultAttachmentMaxBytes)
	setIfZero(&t.Attachments.MaxAudioS, DefaultMaxAudioSeconds)
	if len(t.Attachments.Types) == 0 {
		t.Attachments.Types = DefaultAttachmentTypes()
	}
	return t
}

func setIfZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// BotEnabled reports whether new conversations of t start with the bot.
func BotEnabled(t *frontdeskv1.Tenant) bool { return t.GetBot().GetEnabled() }
