package kb

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxFileBytes bounds one knowledge file: a knowledge base is text written by people, and a
// runaway file must not exhaust memory.
const maxFileBytes = 4 << 20

// yamlArticle is an article as written in YAML (a Q&A file, or a Markdown front matter).
type yamlArticle struct {
	ID        string   `yaml:"id"`
	Title     string   `yaml:"title"`
	Questions []string `yaml:"questions"`
	Answer    string   `yaml:"answer"`
	Tags      []string `yaml:"tags"`
	Language  string   `yaml:"language"`
}

func (y yamlArticle) article(source string) Article {
	return Article{ID: y.ID, Title: y.Title, Questions: y.Questions, Answer: y.Answer, Tags: y.Tags,
		Language: y.Language, Source: source}
}

// Files lists the knowledge files under paths (files, or directories walked recursively for
// .md, .markdown, .yaml and .yml), sorted, relative paths resolved against root.
func Files(root string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if !filepath.IsAbs(p) && root != "" {
			p = filepath.Join(root, p)
		}
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir // e.g. Kubernetes ConfigMap "..data" swaps
				}
				return nil
			}
			// READMEs document a knowledge directory; they are not articles.
			if knowledgeExt(path) && !strings.HasPrefix(d.Name(), ".") && !isReadme(d.Name()) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("knowledge path %s: %w", p, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

func isReadme(name string) bool {
	return strings.EqualFold(strings.TrimSuffix(name, filepath.Ext(name)), "readme")
}

func knowledgeExt(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".md", ".markdown", ".yaml", ".yml":
		return true
	}
	return false
}

// LoadFile reads the articles of one Markdown or YAML file.
func LoadFile(path string) ([]Article, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("knowledge file %s: %d bytes is over the %d limit", path, st.Size(), maxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		as, err := ParseYAML(data, path)
		if err != nil {
			return nil, fmt.Errorf("knowledge file %s: %w", path, err)
		}
		for i := range as {
			if as[i].ID == "" {
				as[i].ID = fmt.Sprintf("%s-%d", base, i+1)
			}
		}
		return as, nil
	default:
		a, err := ParseMarkdown(data, path)
		if err != nil {
			return nil, fmt.Errorf("knowledge file %s: %w", path, err)
		}
		if a.ID == "" {
			a.ID = base
		}
		if a.Title == "" {
			a.Title = base
		}
		return []Article{a}, nil
	}
}

// ParseYAML reads a Q&A file: a list of articles, or a mapping with an `articles` list.
// Each article has title, answer and optionally id, questions, tags and language.
func ParseYAML(data []byte, source string) ([]Article, error) {
	var list []yamlArticle
	if err := yaml.Unmarshal(data, &list); err != nil {
		var doc struct {
			Articles []yamlArticle `yaml:"articles"`
		}
		if err2 := yaml.Unmarshal(data, &doc); err2 != nil {
			return nil, err
		}
		list = doc.Articles
	}
	var out []Article
	for i, y := range list {
		if strings.TrimSpace(y.Answer) == "" {
			return nil, fmt.Errorf("article %d (%q): answer is empty", i+1, y.Title)
		}
		if y.Title == "" && len(y.Questions) > 0 {
			y.Title = y.Questions[0]
		}
		a := y.article(source)
		if a.Language == "" {
			a.Language = DetectLanguage(a.Title + a.Answer)
		}
		out = append(out, a)
	}
	return out, nil
}

// ParseMarkdown reads one article: optional YAML front matter between "---" lines (id,
// questions, tags, language, title), then the body. The first "# " heading is the title (unless
// the front matter has one) and the rest of the body is the answer.
func ParseMarkdown(data []byte, source string) (Article, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	var meta yamlArticle
	if rest, ok := strings.CutPrefix(text, "---\n"); ok {
		front, body, found := strings.Cut(rest, "\n---\n")
		if !found {
			if f, isEnd := strings.CutSuffix(rest, "\n---"); isEnd {
				front, body, found = f, "", true
			}
		}
		if !found {
			return Article{}, errors.New("front matter is not closed by ---")
		}
		if err := yaml.Unmarshal([]byte(front), &meta); err != nil {
			return Article{}, fmt.Errorf("front matter: %w", err)
		}
		text = body
	}
	var body []string
	title := meta.Title
	for _, line := range strings.Split(text, "\n") {
		if h, ok := strings.CutPrefix(line, "# "); ok && title == "" {
			title = strings.TrimSpace(h)
			continue
		}
		body = append(body, line)
	}
	a := meta.article(source)
	a.Title = title
	a.Answer = strings.TrimSpace(strings.Join(body, "\n"))
	if a.Answer == "" {
		return Article{}, errors.New("article has no body")
	}
	if a.Language == "" {
		a.Language = DetectLanguage(a.Title + a.Answer)
	}
	return a, nil
}
