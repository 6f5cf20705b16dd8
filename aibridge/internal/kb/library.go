package kb

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Library holds each tenant's index and keeps it current: it rebuilds an index when the tenant's
// knowledge config changes, and when a knowledge file is added, removed or modified (checked by
// polling file stamps at most once per PollInterval, on use). Polling rather than inotify
// because it sees Kubernetes ConfigMap symlink swaps and network file systems alike, and costs a
// few stat calls per interval.
type Library struct {
	root string
	poll time.Duration
	log  *zap.Logger
	now  func() time.Time

	mu      sync.Mutex
	tenants map[string]*entry
}

type stamp struct {
	size int64
	mod  time.Time
}

type entry struct {
	cfg     *fd.KnowledgeBase
	files   map[string]stamp
	checked time.Time
	index   *Index
}

// NewLibrary returns a library resolving relative knowledge paths against root and checking
// files for changes at most every poll.
func NewLibrary(root string, poll time.Duration, log *zap.Logger) *Library {
	return &Library{root: root, poll: poll, log: log, now: time.Now, tenants: map[string]*entry{}}
}

// Index returns the tenant's current index for its knowledge config kbCfg (nil is an empty
// knowledge base). It never fails: files that cannot be read are logged and skipped, so one bad
// file does not take a tenant's whole knowledge base down.
func (l *Library) Index(tenant string, kbCfg *fd.KnowledgeBase) *Index {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	e := l.tenants[tenant]
	if e != nil && proto.Equal(e.cfg, kbCfg) {
		if now.Sub(e.checked) < l.poll {
			return e.index
		}
		e.checked = now
		if files := l.stamps(tenant, kbCfg); mapsEqual(files, e.files) {
			return e.index
		}
	}
	e = l.build(tenant, kbCfg)
	e.checked = now
	l.tenants[tenant] = e
	return e.index
}

func (l *Library) stamps(tenant string, kbCfg *fd.KnowledgeBase) map[string]stamp {
	files, err := Files(l.root, kbCfg.GetPaths())
	if err != nil {
		l.log.Warn("list knowledge files", zap.String("tenant", tenant), zap.Error(err))
	}
	out := make(map[string]stamp, len(files))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			out[f] = stamp{size: st.Size(), mod: st.ModTime()}
		}
	}
	return out
}

func (l *Library) build(tenant string, kbCfg *fd.KnowledgeBase) *entry {
	var arts []Article
	for i, a := range kbCfg.GetArticles() {
		art := Article{ID: a.GetId(), Title: a.GetTitle(), Questions: slices.Clone(a.GetQuestions()),
			Answer: a.GetAnswer(), Tags: slices.Clone(a.GetTags()), Language: a.GetLanguage()}
		if art.ID == "" {
			art.ID = "inline-" + strconv.Itoa(i+1)
		}
		if art.Language == "" {
			art.Language = DetectLanguage(art.Title + art.Answer)
		}
		arts = append(arts, art)
	}
	files := l.stamps(tenant, kbCfg)
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.Sort(names)
	for _, f := range names {
		as, err := LoadFile(f)
		if err != nil {
			l.log.Warn("skip knowledge file", zap.String("tenant", tenant), zap.Error(err))
			continue
		}
		arts = append(arts, as...)
	}
	l.log.Info("knowledge base loaded", zap.String("tenant", tenant), zap.Int("articles", len(arts)),
		zap.Int("files", len(files)))
	return &entry{cfg: proto.CloneOf(kbCfg), files: files, index: NewIndex(arts)}
}

func mapsEqual(a, b map[string]stamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.size != v.size || !w.mod.Equal(v.mod) {
			return false
		}
	}
	return true
}
