package news

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/polybot/polybot"
)

// Bounds on one feed document.
const (
	// MaxFeedBody is the most bytes of a feed read (after decompression).
	MaxFeedBody = 5 << 20
	// MaxFeedItems is the most items read from one document: the first
	// ones, which feeds list newest first.
	MaxFeedItems = 500
)

// XML namespaces the parser reads.
const (
	nsAtom   = "http://www.w3.org/2005/Atom"
	nsAtom03 = "http://purl.org/atom/ns#"
	nsRSS10  = "http://purl.org/rss/1.0/"
	nsRDF    = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
	nsDC     = "http://purl.org/dc/elements/1.1/"
)

// errTooLarge is what boundedReader returns past its limit.
var errTooLarge = errors.New("feed body too large")

type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more than allowed tells "exactly at the limit" from "over".
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// feedError is the error of a feed that cannot be read: EINVALID, its
// message naming the feed.
func feedError(f *polybot.NewsFeed, what string, err error) error {
	return &polybot.Error{Code: polybot.EINVALID, Message: fmt.Sprintf("feed %s (%s): %s", f.ID, f.Name, what), Err: err}
}

// ParseFeed reads an RSS 2.0, RSS 1.0 (RDF) or Atom document from body
// into headlines of feed f (Source f.ID, SourceName f.Name, Received
// received): items without a title are skipped, relative links are
// resolved against f.URL, a link that is not http(s) is dropped, and a
// title longer than polybot.MaxHeadlineTitle is cut. It reads at most
// MaxFeedBody bytes and MaxFeedItems items. A document that is not
// well-formed XML, not a feed, or too large is an EINVALID error naming
// the feed.
func ParseFeed(f *polybot.NewsFeed, body io.Reader, received time.Time) ([]polybot.Headline, error) {
	base, _ := url.Parse(f.URL)
	d := xml.NewDecoder(&boundedReader{r: body, left: MaxFeedBody})
	d.Strict = true
	d.Entity = xml.HTMLEntity // &nbsp; and friends, common in titles
	d.CharsetReader = charsetReader
	fail := func(err error) error {
		var syn *xml.SyntaxError
		switch {
		case errors.Is(err, errTooLarge):
			return &polybot.Error{Code: polybot.ETOOLARGE, Message: fmt.Sprintf("feed %s (%s): larger than %d MiB", f.ID, f.Name, MaxFeedBody>>20), Err: err}
		case errors.As(err, &syn):
			return feedError(f, fmt.Sprintf("not well-formed XML at line %d: %s", syn.Line, syn.Msg), err)
		case errors.Is(err, errCharset):
			return feedError(f, err.Error(), err)
		default:
			return feedError(f, "cannot read the document", err)
		}
	}

	// The root says what kind of document this is.
	var kind string
	for kind == "" {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, feedError(f, "empty document", nil)
		}
		if err != nil {
			return nil, fail(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch {
			case se.Name.Local == "rss":
				kind = "rss"
			case se.Name.Local == "RDF" && se.Name.Space == nsRDF:
				kind = "rdf"
			case se.Name.Local == "feed" && (se.Name.Space == nsAtom || se.Name.Space == nsAtom03):
				kind = "atom"
			default:
				return nil, feedError(f, fmt.Sprintf("not an RSS or Atom feed (the document is <%s>)", se.Name.Local), nil)
			}
		}
	}

	var out []polybot.Headline
	for len(out) < MaxFeedItems {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fail(err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		var it item
		switch {
		case kind == "atom" && se.Name.Local == "entry" && (se.Name.Space == nsAtom || se.Name.Space == nsAtom03):
			err = readAtomEntry(d, &it)
		case kind != "atom" && se.Name.Local == "item" && (se.Name.Space == "" || se.Name.Space == nsRSS10):
			err = readRSSItem(d, se.Name.Space, &it)
		default:
			continue // channel metadata: descend into it, items may be inside
		}
		if err != nil {
			return nil, fail(err)
		}
		if h, ok := it.headline(f, base, received); ok {
			out = append(out, h)
		}
	}
	return out, nil
}

// item is one RSS item or Atom entry as read, before cleaning.
type item struct {
	title     string
	link      string
	published time.Time
}

// headline cleans it into a Headline of f, or reports false when it has
// no usable title.
func (it *item) headline(f *polybot.NewsFeed, base *url.URL, received time.Time) (polybot.Headline, bool) {
	h := polybot.Headline{
		Source:     f.ID,
		SourceName: f.Name,
		Title:      cutRunes(it.title, polybot.MaxHeadlineTitle),
		Link:       resolveLink(base, it.link),
		Published:  it.published,
		Received:   received,
	}
	if h.Title == "" {
		return h, false
	}
	SetHeadlineID(&h)
	if h.Validate() != nil {
		return h, false
	}
	return h, true
}

// SetHeadlineID sets h.ID to "h-" and its title key, as every source
// names a headline.
func SetHeadlineID(h *polybot.Headline) {
	t, _ := h.Keys()
	h.ID = "h-" + t
}

func resolveLink(base *url.URL, link string) string {
	link = strings.TrimSpace(link)
	if link == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	if base != nil && !u.IsAbs() {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	s := u.String()
	if len(s) > polybot.MaxHeadlineLink {
		return ""
	}
	return s
}

func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n]))
}

// readRSSItem reads the children of an RSS <item> (RSS 2.0: no namespace;
// RSS 1.0: its namespace) up to its end.
func readRSSItem(d *xml.Decoder, space string, it *item) error {
	var guid, guidPermaLink, dcDate, pubDate, atomLink string
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if it.link == "" {
				it.link = atomLink
			}
			if it.link == "" && guidPermaLink != "false" && strings.HasPrefix(guid, "http") {
				it.link = guid
			}
			it.published = ParseDate(pubDate)
			if it.published.IsZero() {
				it.published = ParseDate(dcDate)
			}
			return nil
		case xml.StartElement:
			own := t.Name.Space == space || t.Name.Space == ""
			switch {
			case own && t.Name.Local == "title":
				s, err := readText(d)
				if err != nil {
					return err
				}
				it.title = cleanHTMLText(s)
			case own && t.Name.Local == "link":
				s, err := readText(d)
				if err != nil {
					return err
				}
				it.link = strings.TrimSpace(s)
			case own && t.Name.Local == "pubDate":
				s, err := readText(d)
				if err != nil {
					return err
				}
				pubDate = s
			case own && t.Name.Local == "guid":
				guidPermaLink = strings.ToLower(strings.TrimSpace(attr(t, "isPermaLink")))
				s, err := readText(d)
				if err != nil {
					return err
				}
				guid = strings.TrimSpace(s)
			case t.Name.Space == nsDC && t.Name.Local == "date":
				s, err := readText(d)
				if err != nil {
					return err
				}
				dcDate = s
			case t.Name.Space == nsAtom && t.Name.Local == "link":
				if rel := attr(t, "rel"); (rel == "" || rel == "alternate") && atomLink == "" {
					atomLink = attr(t, "href")
				}
				if err := d.Skip(); err != nil {
					return err
				}
			default:
				if err := d.Skip(); err != nil {
					return err
				}
			}
		}
	}
}

// readAtomEntry reads the children of an Atom <entry> up to its end.
func readAtomEntry(d *xml.Decoder, it *item) error {
	var published, updated, alternate, htmlAlternate string
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			it.link = htmlAlternate
			if it.link == "" {
				it.link = alternate
			}
			it.published = ParseDate(published)
			if it.published.IsZero() {
				it.published = ParseDate(updated)
			}
			return nil
		case xml.StartElement:
			if t.Name.Space != nsAtom && t.Name.Space != nsAtom03 {
				if err := d.Skip(); err != nil {
					return err
				}
				continue
			}
			switch t.Name.Local {
			case "title":
				typ := attr(t, "type")
				s, err := readText(d)
				if err != nil {
					return err
				}
				if typ == "html" || typ == "text/html" {
					it.title = cleanHTMLText(s)
				} else {
					it.title = collapseSpace(s) // text, or xhtml whose markup readText dropped
				}
			case "link":
				rel, href := attr(t, "rel"), attr(t, "href")
				if (rel == "" || rel == "alternate") && href != "" {
					if alternate == "" {
						alternate = href
					}
					if typ := attr(t, "type"); htmlAlternate == "" && (typ == "text/html" || typ == "application/xhtml+xml") {
						htmlAlternate = href
					}
				}
				if err := d.Skip(); err != nil {
					return err
				}
			case "published", "issued":
				s, err := readText(d)
				if err != nil {
					return err
				}
				published = s
			case "updated", "modified":
				s, err := readText(d)
				if err != nil {
					return err
				}
				updated = s
			default:
				if err := d.Skip(); err != nil {
					return err
				}
			}
		}
	}
}

// readText returns the character data of the element just opened and of
// all its descendants, up to the element's end.
func readText(d *xml.Decoder) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := d.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if b.Len()+len(t) <= 4*polybot.MaxHeadlineTitle+polybot.MaxHeadlineLink {
				b.Write(t)
			}
		}
	}
	return b.String(), nil
}

func attr(se xml.StartElement, local string) string {
	for _, a := range se.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// tagRE matches an HTML tag: "<" then a letter or "/", so "S&P < 5000" is
// text.
var tagRE = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>`)

// cleanHTMLText is a title that may carry escaped HTML (RSS in practice,
// Atom type="html"): entities decoded, then tags dropped, space collapsed.
func cleanHTMLText(s string) string {
	return collapseSpace(tagRE.ReplaceAllString(html.UnescapeString(s), " "))
}

func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// errCharset is a declared encoding the parser does not read.
var errCharset = errors.New("unsupported character encoding")

// charsetReader reads the encodings feeds declare besides UTF-8: US-ASCII,
// and ISO-8859-1, which (as browsers do) is read as its superset
// windows-1252.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "iso_8859-1", "windows-1252", "cp1252", "x-cp1252":
		return &cp1252Reader{r: r}, nil
	}
	return nil, fmt.Errorf("%w %q (UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are read)", errCharset, label)
}

// cp1252High is windows-1252's 0x80..0x9F; the five bytes it leaves
// undefined map to the same code point, as the WHATWG encoding standard
// does.
var cp1252High = [32]rune{
	0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
	0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
}

type cp1252Reader struct {
	r       io.Reader
	pending []byte
	scratch [1024]byte
}

func (c *cp1252Reader) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		n, err := c.r.Read(c.scratch[:])
		var b bytes.Buffer
		for _, x := range c.scratch[:n] {
			switch {
			case x < 0x80:
				b.WriteByte(x)
			case x < 0xA0:
				b.WriteRune(cp1252High[x-0x80])
			default:
				b.WriteRune(rune(x))
			}
		}
		c.pending = b.Bytes()
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// zoneOffsets are the zone names RFC 822 allows, in seconds east of UTC;
// time.Parse alone reads "EST" as a zone of offset zero.
var zoneOffsets = map[string]int{
	"UT": 0, "UTC": 0, "GMT": 0, "Z": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600,
}

// isoLayouts are the ISO 8601 forms Atom (RFC 3339) and dc:date use.
var isoLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

// rfc822Layouts are RFC 822/1123 dates without the weekday, with a numeric
// zone (named zones are rewritten first) or none (UTC).
var rfc822Layouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04 -0700",
	"2 January 2006 15:04:05 -0700",
	"2 Jan 2006 15:04:05 -07:00",
	"2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04",
}

// ParseDate reads a feed's date: RFC 1123 with a numeric or named zone,
// with or without the weekday, seconds, or a four-digit year (RSS
// pubDate), or RFC 3339 and other ISO 8601 forms (Atom, dc:date). It
// returns the instant in UTC, or the zero time for what it cannot read.
func ParseDate(s string) time.Time {
	s = collapseSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	if i := strings.IndexByte(s, ','); i >= 0 && i < 12 {
		s = strings.TrimSpace(s[i+1:]) // "Mon, " or "Monday, "
	}
	fields := strings.Fields(s)
	if n := len(fields); n >= 2 && strings.HasPrefix(fields[n-1], "(") {
		fields = fields[:n-1] // "+0000 (UTC)"
	}
	if n := len(fields); n > 0 {
		if off, ok := zoneOffsets[strings.ToUpper(fields[n-1])]; ok {
			sign := '+'
			if off < 0 {
				sign, off = '-', -off
			}
			fields[n-1] = fmt.Sprintf("%c%02d%02d", sign, off/3600, off%3600/60)
		}
		s = strings.Join(fields, " ")
	}
	for _, l := range rfc822Layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
