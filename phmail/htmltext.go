package phmail

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlLines turns an HTML body into text lines that keep the document's
// structure: every block (paragraph, div, list item, heading, table row,
// line break) starts a new line and the cells of a table row are joined with
// a space, so that "<tr><td>ECC ID:</td><td>0001234567</td></tr>" becomes
// the line "ECC ID: 0001234567". Bold and other inline markup leave no
// marks; script, style and head content is dropped. maxTokens bounds the
// work on hostile input.
func htmlLines(src string, maxTokens int) []string {
	z := html.NewTokenizer(strings.NewReader(src))
	var (
		lines []string
		cur   strings.Builder
		skip  int // depth inside script/style/head/title
		pre   int // depth inside pre
	)
	flush := func() {
		line := cur.String()
		if pre == 0 {
			line = strings.Join(strings.Fields(line), " ")
		}
		lines = append(lines, line)
		cur.Reset()
	}
	for n := 0; n < maxTokens; n++ {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			flush()
			return lines
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := string(z.Text())
			if pre > 0 {
				parts := strings.Split(text, "\n")
				for i, p := range parts {
					if i > 0 {
						flush()
					}
					cur.WriteString(p)
				}
				continue
			}
			cur.WriteString(text)
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			case atom.Pre:
				flush()
				if tt == html.StartTagToken {
					pre++
				} else if tt == html.EndTagToken && pre > 0 {
					pre--
				}
				continue
			case atom.Td, atom.Th:
				cur.WriteString(" ")
				continue
			case atom.Br, atom.P, atom.Div, atom.Li, atom.Tr, atom.Table, atom.Ul, atom.Ol,
				atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Hr, atom.Blockquote,
				atom.Dd, atom.Dt, atom.Dl, atom.Section, atom.Article, atom.Header, atom.Footer,
				atom.Tbody, atom.Thead, atom.Tfoot, atom.Body, atom.Html, atom.Center, atom.Address:
				if a == atom.Li && tt == html.StartTagToken {
					flush()
					cur.WriteString("- ")
					continue
				}
				flush()
			}
		}
	}
	flush()
	return lines
}
