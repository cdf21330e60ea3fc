package config

import (
	"unicode/utf16"
	"unicode/utf8"
)

// ScanYAML checks YAML (or JSON) text against MaxNesting and maxValues
// before it is parsed: one pass over the bytes, no recursion, no allocation
// per value, so an over-limit document is refused after reading only as far
// as the limit, where yaml.v3 would first build a node for every value (a
// 10 MiB body is 1M nodes, seconds and hundreds of MB) and only then be
// counted. No YAML library in the module graph exposes an event stream that
// can stop early (yaml.v3 and go.yaml.in/yaml/v3 keep their parser
// unexported and parse the whole document into a tree; goccy/go-yaml's
// scanner tokenises differently from yaml.v3 and keeps every token), so this
// follows yaml.v3's own scanner (scannerc.go: indentation stack, simple
// keys, plain/quoted/block scalar rules) just far enough to find where
// nodes start.
//
// It counts a lower bound of what decodeYAML counts after parsing, so it
// never refuses a document yaml.v3 decodes within the limits:
//   - every scalar, alias and flow collection start is one node of its own;
//   - a node announced by '-', '?' or ':' that is not followed by one of
//     those is one more node (an empty value or a block collection), and
//     a key after '-' or ':' starts a block mapping, one more node;
//   - block collections otherwise, implicit flow pairs and alias
//     expansions are not counted (the post-parse count handles aliases);
//   - nesting is the open block collections plus the open flow ones;
//   - whatever yaml.v3's scanner would refuse, and everything after the
//     document's node (yaml.Unmarshal decodes the first document's node
//     and ignores what follows it) ends the count with no verdict: the
//     parser reports it, or the count after parsing.
func ScanYAML(data []byte, maxValues int) error {
	s := newYAMLScan(data, maxValues)
	s.run()
	return s.err
}

func newYAMLScan(data []byte, maxValues int) *yamlScan {
	if len(data) >= 2 && (data[0] == 0xFE && data[1] == 0xFF || data[0] == 0xFF && data[1] == 0xFE) {
		data = utf16ToUTF8(data) // yaml.v3 reads UTF-16 with a BOM as UTF-8
	}
	return &yamlScan{b: data, indents: []int{-1}, skCol: -1, max: maxValues, skAllowed: true}
}

// utf16ToUTF8 transcodes UTF-16 with a byte order mark as yaml.v3's reader
// does before scanning.
func utf16ToUTF8(b []byte) []byte {
	be := b[0] == 0xFE
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i+1 < len(b); i += 2 {
		if be {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		} else {
			u = append(u, uint16(b[i+1])<<8|uint16(b[i]))
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out
}

type yamlScan struct {
	b   []byte
	i   int
	col int // column of b[i] in characters, as yaml.v3 counts them
	// indents is yaml.v3's indentation stack: the columns of the open block
	// collections, -1 (the document) at the bottom; the top is its
	// parser.indent.
	indents []int
	flow    int // open flow collections
	// skAllowed is yaml.v3's simple_key_allowed; skCol is where a possible
	// simple key starts at flow level 0 (-1: none), and skPending whether a
	// node was pending when it started (then the key starts a mapping).
	skAllowed bool
	skCol     int
	skPending bool
	// pending: '-', '?' or ':' announced a node that no token has been yet.
	pending   bool
	values    int
	max       int
	started   bool // a token of the document has been read
	docMarker bool // its "---" has been read
	// rootDone: the document's node has ended (2), or a scalar or flow
	// collection at its top (1), which a ':' may still make a key. yaml.v3
	// decodes that node and ignores whatever follows it.
	rootDone int
	// tagged and anchored: the node to come already has that property. A
	// second one is no YAML, but yaml.v3's parser takes it as the end of an
	// empty node and ignores the rest of the document ("!a !b\n- c" decodes
	// as one empty scalar): the count stops there.
	tagged, anchored bool
	done             bool
	err              error
}

func (s *yamlScan) at(j int) byte {
	if j < len(s.b) {
		return s.b[j]
	}
	return 0
}

// breakLen is the length of the line break at j, 0 when there is none:
// yaml.v3 breaks lines at CR, LF, CRLF, NEL, LS and PS.
func (s *yamlScan) breakLen(j int) int {
	switch c := s.at(j); {
	case c == '\r':
		if s.at(j+1) == '\n' {
			return 2
		}
		return 1
	case c == '\n':
		return 1
	case c == 0xC2 && s.at(j+1) == 0x85:
		return 2
	case c == 0xE2 && s.at(j+1) == 0x80 && (s.at(j+2) == 0xA8 || s.at(j+2) == 0xA9):
		return 3
	}
	return 0
}

func (s *yamlScan) blank(j int) bool { c := s.at(j); return c == ' ' || c == '\t' }

// blankz is yaml.v3's is_blankz: a blank, a line break or the end.
func (s *yamlScan) blankz(j int) bool {
	return j >= len(s.b) || s.b[j] == 0 || s.blank(j) || s.breakLen(j) > 0
}

// advance moves past one character (or one line break).
func (s *yamlScan) advance() {
	if n := s.breakLen(s.i); n > 0 {
		s.i += n
		s.col = 0
		s.skCol = -1 // a simple key cannot span lines
		return
	}
	s.i++
	for s.i < len(s.b) && s.b[s.i]&0xC0 == 0x80 {
		s.i++
	}
	s.col++
}

func (s *yamlScan) top() int { return s.indents[len(s.indents)-1] }

// count adds n values and stops the scan with the error past the limit.
func (s *yamlScan) count(n int) {
	s.values += n
	if s.values > s.max {
		s.err = TooManyValues(s.max)
		s.done = true
	}
}

// node is a token that is a node itself: it is the pending node if any.
func (s *yamlScan) node() {
	s.pending = false
	s.count(1)
}

// indicator is '-', '?', ':', ',' or a flow end: a pending node it
// follows is empty or a collection, a node of its own.
func (s *yamlScan) indicator() {
	if s.pending {
		s.pending = false
		s.count(1)
	}
}

// saveKey marks where a simple key may start (yaml.v3's save_simple_key).
func (s *yamlScan) saveKey() {
	if s.skAllowed && s.flow == 0 {
		s.skCol, s.skPending = s.col, s.pending
	}
}

func (s *yamlScan) roll(col int) {
	if col > s.top() {
		s.indents = append(s.indents, col)
		s.checkDepth()
	}
}

func (s *yamlScan) checkDepth() {
	if len(s.indents)-1+s.flow > MaxNesting {
		s.err = ErrTooDeep
		s.done = true
	}
}

func (s *yamlScan) unroll(col int) {
	for s.top() > col {
		s.indents = s.indents[:len(s.indents)-1]
		if len(s.indents) == 1 {
			s.rootDone = 2 // the document's block collection ended
		}
	}
}

// nodeEnded notes a scalar, alias or flow collection that ended at the top
// of the document.
func (s *yamlScan) nodeEnded() {
	if s.flow == 0 && len(s.indents) == 1 {
		s.rootDone = 1
	}
}

// stop ends the scan without a verdict: yaml.v3 refuses what follows, or
// it is past the first document.
func (s *yamlScan) stop() { s.done = true }

// end is the end of the first document: a pending node is an empty one.
func (s *yamlScan) end() {
	s.indicator()
	s.done = true
}

func (s *yamlScan) docIndicator(c byte) bool {
	return s.col == 0 && s.at(s.i) == c && s.at(s.i+1) == c && s.at(s.i+2) == c && s.blankz(s.i+3)
}

// toToken is yaml.v3's scan_to_next_token; false at the end of the input.
func (s *yamlScan) toToken() bool {
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case s.col == 0 && c == 0xEF && s.at(s.i+1) == 0xBB && s.at(s.i+2) == 0xBF:
			s.i += 3 // a byte order mark takes no column
		case c == ' ' || c == '\t' && (s.flow > 0 || !s.skAllowed):
			s.advance()
		case c == '#':
			for s.i < len(s.b) && s.breakLen(s.i) == 0 {
				s.advance()
			}
		case s.breakLen(s.i) > 0:
			s.advance()
			if s.flow == 0 {
				s.skAllowed = true
			}
		default:
			return true
		}
	}
	return false
}

func (s *yamlScan) run() {
	for !s.done {
		if !s.toToken() {
			s.end()
			return
		}
		if s.flow == 0 {
			s.unroll(s.col)
		}
		c := s.b[s.i]
		if s.flow == 0 && len(s.indents) == 1 && (s.rootDone == 2 ||
			s.rootDone == 1 && !(c == ':' && s.blankz(s.i+1) && s.skCol >= 0)) {
			s.end()
			return
		}
		if s.col == 0 && c == '%' {
			if s.started || s.docMarker {
				s.stop()
				return
			}
			for s.i < len(s.b) && s.breakLen(s.i) == 0 {
				s.advance()
			}
			continue
		}
		if s.docIndicator('-') || s.docIndicator('.') {
			if c == '.' || s.started || s.docMarker {
				s.end()
				return
			}
			s.docMarker = true
			s.i, s.col = s.i+3, 3
			s.skAllowed, s.skCol = false, -1
			continue
		}
		s.started = true
		tagged, anchored := s.tagged, s.anchored
		s.tagged, s.anchored = false, false
		switch {
		case c == '[' || c == '{':
			s.saveKey()
			s.node()
			s.flow++
			s.checkDepth()
			s.skAllowed = true
			s.advance()
		case c == ']' || c == '}':
			if s.flow == 0 {
				s.stop()
				return
			}
			s.indicator()
			s.flow--
			s.skAllowed = false
			s.advance()
			s.nodeEnded()
		case c == ',':
			if s.flow == 0 {
				s.stop()
				return
			}
			s.indicator()
			s.skAllowed = true
			s.advance()
		case c == '-' && s.blankz(s.i+1):
			if s.flow > 0 || !s.skAllowed {
				s.stop()
				return
			}
			s.roll(s.col)
			s.indicator()
			s.pending = true
			s.skCol, s.skAllowed = -1, true
			s.advance()
		case c == '?' && (s.flow > 0 || s.blankz(s.i+1)):
			if s.flow == 0 {
				if !s.skAllowed {
					s.stop()
					return
				}
				s.roll(s.col)
			}
			s.indicator()
			s.pending = true
			s.skCol, s.skAllowed = -1, s.flow == 0
			s.advance()
		case c == ':' && (s.flow > 0 || s.blankz(s.i+1)):
			if s.flow == 0 {
				if s.skCol >= 0 {
					// The key starts a block mapping at its column; a node
					// pending before it is that mapping.
					s.roll(s.skCol)
					if s.skPending {
						s.count(1)
					}
				} else {
					if !s.skAllowed {
						s.stop()
						return
					}
					s.roll(s.col)
				}
			}
			s.indicator() // an empty key
			s.pending = true
			s.skCol, s.skAllowed = -1, s.flow == 0
			s.advance()
		case c == '*' || c == '&':
			if c == '&' && anchored {
				s.stop()
				return
			}
			s.saveKey()
			if c == '*' {
				s.node()
			} else {
				s.tagged, s.anchored = tagged, true
			}
			s.skAllowed = false
			s.advance()
			n := 0
			for isAnchorChar(s.at(s.i)) {
				s.advance()
				n++
			}
			if n == 0 || !(s.blankz(s.i) || indexByte("?:,]}%@`", s.at(s.i))) {
				s.stop()
				return
			}
			if c == '*' {
				s.nodeEnded()
			}
		case c == '!':
			if tagged {
				s.stop()
				return
			}
			s.saveKey()
			s.tagged, s.anchored = true, anchored
			s.skAllowed = false
			for !s.blankz(s.i) {
				if indexByte(",[]{}", s.b[s.i]) {
					s.stop() // let yaml.v3 judge such a tag
					return
				}
				s.advance()
			}
		case (c == '|' || c == '>') && s.flow == 0:
			s.node()
			s.skCol, s.skAllowed = -1, true
			s.blockScalar()
			s.nodeEnded()
		case c == '\'' || c == '"':
			s.saveKey()
			s.node()
			s.skAllowed = false
			s.quoted(c)
			s.nodeEnded()
		case !plainStarter(c) || c == '-' && !s.blank(s.i+1) ||
			s.flow == 0 && (c == '?' || c == ':') && !s.blankz(s.i+1):
			s.saveKey()
			s.node()
			s.plain()
			s.nodeEnded()
		default:
			s.stop() // no token starts with it
			return
		}
	}
}

// blockScalar skips a literal or folded scalar: its header line, then every
// line that is blank or indented at least max(parser.indent+1, 1), the
// least indentation yaml.v3 gives the content (scan_block_scalar_breaks).
// A non-blank line indented less ends the scalar in yaml.v3 too.
func (s *yamlScan) blockScalar() {
	for s.i < len(s.b) && s.breakLen(s.i) == 0 {
		s.advance()
	}
	minIndent := s.top() + 1
	if minIndent < 1 {
		minIndent = 1
	}
	for s.i < len(s.b) {
		lineStart := s.i
		s.advance() // the line break
		spaces := 0
		for s.at(s.i) == ' ' {
			s.i++
			spaces++
		}
		j := s.i
		for s.blank(j) {
			j++
		}
		if j < len(s.b) && s.breakLen(j) == 0 && spaces < minIndent {
			s.i, s.col = lineStart, 0
			s.advance() // back to the start of that line
			return
		}
		s.col = spaces
		for s.i < len(s.b) && s.breakLen(s.i) == 0 {
			s.advance()
		}
	}
}

// quoted skips a single- or double-quoted scalar, which may span lines.
func (s *yamlScan) quoted(q byte) {
	s.advance()
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case q == '\'' && c == '\'':
			if s.at(s.i+1) != '\'' {
				s.advance()
				return
			}
			s.advance()
		case q == '"' && c == '\\':
			s.advance()
		case q == '"' && c == '"':
			s.advance()
			return
		}
		if s.i < len(s.b) {
			s.advance()
		}
	}
	s.stop() // unterminated: yaml.v3 refuses it
}

// plain skips a plain scalar as yaml.v3's scan_plain_scalar reads it,
// continuation lines included (those indented past parser.indent, any in a
// flow collection).
func (s *yamlScan) plain() {
	indent := s.top() + 1
	leadingBlanks := false
	for {
		if s.docIndicator('-') || s.docIndicator('.') || s.at(s.i) == '#' {
			break
		}
		for !s.blankz(s.i) {
			c := s.b[s.i]
			if c == ':' && s.blankz(s.i+1) || s.flow > 0 && indexByte(",?[]{}", c) {
				s.skAllowed = leadingBlanks
				return
			}
			leadingBlanks = false
			s.advance()
		}
		if !(s.blank(s.i) || s.breakLen(s.i) > 0) {
			break
		}
		for s.blank(s.i) || s.breakLen(s.i) > 0 {
			if s.blank(s.i) {
				if leadingBlanks && s.col < indent && s.b[s.i] == '\t' {
					s.stop()
					return
				}
			} else {
				leadingBlanks = true
			}
			s.advance()
		}
		if s.flow == 0 && s.col < indent {
			break
		}
	}
	s.skAllowed = leadingBlanks
}

// plainStarter is yaml.v3's list of characters a plain scalar may not
// start with (some may when a non-blank follows).
func plainStarter(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0 ||
		indexByte("-?:,[]{}#&*!|>'\"%@`", c)
}

// isAnchorChar is yaml.v3's is_alpha, the characters of an anchor name.
func isAnchorChar(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-'
}

func indexByte(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}
