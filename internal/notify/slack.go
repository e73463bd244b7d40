package notify

import (
	"strings"
	"unicode/utf8"
)

// Slack message limits (Block Kit): a section's text is at most 3000
// characters, a button's label 75. The facts stay well under the former,
// as Slack may count some characters twice.
const (
	slackSectionMax = 2800
	slackButtonMax  = 75
)

// slackMessage is a chat.postMessage or incoming webhook body.
type slackMessage struct {
	// Channel is set for chat.postMessage only (a webhook posts to its
	// own channel).
	Channel string `json:"channel,omitempty"`
	// Text is the notification's fallback text.
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
	// Links in the facts (pull requests, CI runs) are not unfurled.
	UnfurlLinks bool `json:"unfurl_links"`
	UnfurlMedia bool `json:"unfurl_media"`
}

type slackBlock struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	Elements []any      `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // mrkdwn or plain_text
	Text string `json:"text"`
}

type slackButton struct {
	Type     string    `json:"type"` // button
	Text     slackText `json:"text"`
	URL      string    `json:"url"`
	ActionID string    `json:"action_id"`
}

// slackEscape escapes the three characters Slack's text formatting gives
// meaning to, so that an event's text cannot mention @channel (<!channel>),
// link (<url|text>) or otherwise act as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackMessageOf renders ev: its title, its facts, a button to the link
// (approving stays in the gateway: the button only opens the page) and a
// line of context. Every text from the event is escaped.
func slackMessageOf(ev *Event) slackMessage {
	title := slackEscape(ev.Title)
	blocks := []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: "*" + title + "*"}}}
	var facts strings.Builder
	for _, f := range ev.Facts {
		line := "*" + slackEscape(f.Name) + ":* " + slackEscape(f.Value)
		if facts.Len() > 0 {
			line = "\n" + line
		}
		if utf8.RuneCountInString(facts.String())+utf8.RuneCountInString(line) > slackSectionMax {
			facts.WriteString("\n…")
			break
		}
		facts.WriteString(line)
	}
	if facts.Len() > 0 {
		blocks = append(blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: facts.String()}})
	}
	if ev.Link != "" {
		label := "Open in Rack Gateway"
		if ev.Kind == ApprovalRequested {
			label = "Review in Rack Gateway"
		}
		blocks = append(blocks, slackBlock{Type: "actions", Elements: []any{
			slackButton{Type: "button", Text: slackText{Type: "plain_text", Text: label}, URL: ev.Link, ActionID: "open"},
		}})
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []any{
		slackText{Type: "mrkdwn", Text: slackEscape("Rack Gateway · " + ev.Kind + " · " + when(ev.Time))},
	}})
	return slackMessage{Text: title, Blocks: blocks}
}
