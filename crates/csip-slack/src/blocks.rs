//! Slack messages: a plain-text fallback and Block Kit blocks, rendered as
//! the JSON Slack documents.
//!
//! A [`Message`] holds what the caller gave; its JSON ([`Message::to_json`],
//! or its `Serialize`) is always a message Slack accepts: text is escaped
//! (`&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`, Slack's control characters),
//! a text over its limit is cut at a character, never inside an escape or a
//! `<…>` link, and ends with `…`, blocks past the 50th give way to one
//! saying how many more there were, and a block with nothing in it (which
//! Slack refuses) is left out.
//!
//! Lengths are counted in UTF-16 code units of the escaped text, which is
//! never less than what Slack counts, so a limit is never passed.
//!
//! ```
//! use csip_slack::blocks::{Block, Message, Mrkdwn};
//! let message = Message::ephemeral("Gard AS: health 72 (was 80)")
//!     .block(Block::header("Gard AS"))
//!     .block(Block::section(Mrkdwn::new().bold("Health score").plain(" 72 < 80")));
//! assert_eq!(
//!     message.to_json(),
//!     serde_json::json!({
//!         "response_type": "ephemeral",
//!         "text": "Gard AS: health 72 (was 80)",
//!         "blocks": [
//!             {"type": "header", "text": {"type": "plain_text", "text": "Gard AS"}},
//!             {"type": "section", "text": {"type": "mrkdwn", "text": "*Health score* 72 &lt; 80"}}
//!         ]
//!     })
//! );
//! ```

use serde_json::{Map, Value, json};

/// The most blocks Slack takes in a message.
pub const MAX_BLOCKS: usize = 50;
/// The longest text of a section block.
pub const MAX_SECTION_TEXT: usize = 3000;
/// The most fields of a section block.
pub const MAX_FIELDS: usize = 10;
/// The longest text of one field of a section block.
pub const MAX_FIELD_TEXT: usize = 2000;
/// The longest text of a header block.
pub const MAX_HEADER_TEXT: usize = 150;
/// The most elements of a context block.
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
/// The longest text of one element of a context block (a text object's
/// limit).
pub const MAX_CONTEXT_TEXT: usize = 3000;
/// The longest top-level `text` of a message (longer is refused with
/// `msg_too_long`).
pub const MAX_MESSAGE_TEXT: usize = 40_000;

const ELLIPSIS: char = '…';

/// Who sees a reply to a slash command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResponseType {
    /// Only the user who typed the command (Slack's default).
    #[default]
    Ephemeral,
    /// Everyone in the channel.
    InChannel,
}

impl ResponseType {
    /// The name in Slack's JSON: `ephemeral` or `in_channel`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Ephemeral => "ephemeral",
            ResponseType::InChannel => "in_channel",
        }
    }
}

/// Text in Slack's `mrkdwn`, escaped: built from plain text (escaped here)
/// and formatting.
///
/// ```
/// use csip_slack::blocks::Mrkdwn;
/// let text = Mrkdwn::new().bold("R&D <EMEA>").plain(": ").user("U2CERLKJA");
/// assert_eq!(text.as_str(), "*R&amp;D &lt;EMEA&gt;*: <@U2CERLKJA>");
/// assert_eq!(Mrkdwn::from("a < b").as_str(), "a &lt; b");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mrkdwn(String);

impl Mrkdwn {
    /// Empty text.
    pub fn new() -> Mrkdwn {
        Mrkdwn(String::new())
    }

    /// This text followed by `text`, escaped.
    pub fn plain(mut self, text: &str) -> Mrkdwn {
        push_escaped(&mut self.0, text);
        self
    }

    /// This text followed by `text` in bold (`*…*`).
    pub fn bold(self, text: &str) -> Mrkdwn {
        self.wrapped('*', text)
    }

    /// This text followed by `text` in italics (`_…_`).
    pub fn italic(self, text: &str) -> Mrkdwn {
        self.wrapped('_', text)
    }

    /// This text followed by `text` as inline code (`` `…` ``).
    pub fn code(self, text: &str) -> Mrkdwn {
        self.wrapped('`', text)
    }

    /// This text followed by a mention of the Slack user `user_id`
    /// (`<@U…>`); an id that is not letters and digits is written as plain
    /// text instead.
    pub fn user(mut self, user_id: &str) -> Mrkdwn {
        if !user_id.is_empty() && user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            self.0.push_str("<@");
            self.0.push_str(user_id);
            self.0.push('>');
            self
        } else {
            self.plain(user_id)
        }
    }

    /// This text followed by `mrkdwn` as it stands: formatting the caller
    /// has escaped itself (a link `<https://…|label>`, a line break).
    pub fn formatted(mut self, mrkdwn: &str) -> Mrkdwn {
        self.0.push_str(mrkdwn);
        self
    }

    /// The escaped text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether there is nothing to show (empty or only whitespace).
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }

    fn wrapped(mut self, mark: char, text: &str) -> Mrkdwn {
        if text.is_empty() {
            return self;
        }
        self.0.push(mark);
        push_escaped(&mut self.0, text);
        self.0.push(mark);
        self
    }
}

impl From<&str> for Mrkdwn {
    /// Plain text, escaped.
    fn from(text: &str) -> Mrkdwn {
        Mrkdwn::new().plain(text)
    }
}

impl From<String> for Mrkdwn {
    /// Plain text, escaped.
    fn from(text: String) -> Mrkdwn {
        Mrkdwn::new().plain(&text)
    }
}

/// One Block Kit block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// Large bold plain text (up to [`MAX_HEADER_TEXT`]); not parsed as
    /// mrkdwn.
    Header(String),
    /// Text, and fields shown in two columns.
    Section {
        /// The text (up to [`MAX_SECTION_TEXT`]); may be empty when there
        /// are fields.
        text: Mrkdwn,
        /// Up to [`MAX_FIELDS`] fields of up to [`MAX_FIELD_TEXT`] each.
        fields: Vec<Mrkdwn>,
    },
    /// Small grey text (up to [`MAX_CONTEXT_ELEMENTS`] pieces).
    Context(Vec<Mrkdwn>),
    /// A line between blocks.
    Divider,
}

impl Block {
    /// A header block of plain text.
    pub fn header(text: impl Into<String>) -> Block {
        Block::Header(text.into())
    }

    /// A section block of text.
    pub fn section(text: impl Into<Mrkdwn>) -> Block {
        Block::Section {
            text: text.into(),
            fields: Vec::new(),
        }
    }

    /// A section block of text (may be empty) and fields.
    pub fn fields(text: impl Into<Mrkdwn>, fields: Vec<Mrkdwn>) -> Block {
        Block::Section {
            text: text.into(),
            fields,
        }
    }

    /// A context block.
    pub fn context(elements: Vec<Mrkdwn>) -> Block {
        Block::Context(elements)
    }

    /// The block's JSON, or `None` when it has nothing to show.
    fn to_json(&self) -> Option<Value> {
        match self {
            Block::Header(text) => {
                if text.trim().is_empty() {
                    return None;
                }
                let text = truncate(text.trim(), MAX_HEADER_TEXT, false);
                Some(json!({"type": "header", "text": {"type": "plain_text", "text": text}}))
            }
            Block::Section { text, fields } => {
                let fields = capped(fields, MAX_FIELDS, MAX_FIELD_TEXT);
                if text.is_blank() && fields.is_empty() {
                    return None;
                }
                let mut block = Map::new();
                block.insert("type".into(), "section".into());
                if !text.is_blank() {
                    block.insert("text".into(), mrkdwn_json(text.as_str(), MAX_SECTION_TEXT));
                }
                if !fields.is_empty() {
                    block.insert("fields".into(), Value::Array(fields));
                }
                Some(Value::Object(block))
            }
            Block::Context(elements) => {
                let elements = capped(elements, MAX_CONTEXT_ELEMENTS, MAX_CONTEXT_TEXT);
                if elements.is_empty() {
                    return None;
                }
                Some(json!({"type": "context", "elements": elements}))
            }
            Block::Divider => Some(json!({"type": "divider"})),
        }
    }
}

/// A message: the plain-text fallback Slack shows in notifications (and
/// where blocks cannot be shown), its blocks, and who sees it when it
/// answers a slash command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The fallback, plain text (escaped when rendered).
    pub text: String,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
    /// Who sees it, when it answers a slash command (ignored by
    /// `chat.postMessage`).
    pub response_type: ResponseType,
}

impl Message {
    /// A reply only its user sees, of this fallback text.
    pub fn ephemeral(text: impl Into<String>) -> Message {
        Message {
            text: text.into(),
            blocks: Vec::new(),
            response_type: ResponseType::Ephemeral,
        }
    }

    /// A reply the whole channel sees, of this fallback text.
    pub fn in_channel(text: impl Into<String>) -> Message {
        Message {
            text: text.into(),
            blocks: Vec::new(),
            response_type: ResponseType::InChannel,
        }
    }

    /// This message with `block` added at the end.
    pub fn block(mut self, block: Block) -> Message {
        self.blocks.push(block);
        self
    }

    /// The message as a slash command's answer or a `response_url` post:
    /// `{"response_type", "text", "blocks"}` (no `blocks` when none has
    /// anything to show).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("response_type".into(), self.response_type.as_str().into());
        self.insert_content(&mut out);
        Value::Object(out)
    }

    /// The message as a `chat.postMessage` body: `{"channel", "text",
    /// "blocks"}`.
    pub fn to_post_json(&self, channel: &str) -> Value {
        let mut out = Map::new();
        out.insert("channel".into(), channel.into());
        self.insert_content(&mut out);
        Value::Object(out)
    }

    fn insert_content(&self, out: &mut Map<String, Value>) {
        let mut text = String::new();
        push_escaped(&mut text, &self.text);
        out.insert(
            "text".into(),
            truncate(&text, MAX_MESSAGE_TEXT, true).into(),
        );
        let mut blocks: Vec<Value> = self.blocks.iter().filter_map(Block::to_json).collect();
        if blocks.len() > MAX_BLOCKS {
            let hidden = blocks.len() - (MAX_BLOCKS - 1);
            blocks.truncate(MAX_BLOCKS - 1);
            let more = format!("{ELLIPSIS} and {hidden} more not shown");
            blocks.push(
                json!({"type": "context", "elements": [mrkdwn_json(&more, MAX_CONTEXT_TEXT)]}),
            );
        }
        if !blocks.is_empty() {
            out.insert("blocks".into(), Value::Array(blocks));
        }
    }
}

impl serde::Serialize for Message {
    /// As [`Message::to_json`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// `text` with Slack's control characters escaped: `&` as `&amp;`, `<` as
/// `&lt;`, `>` as `&gt;` (and nothing else, as Slack asks).
///
/// ```
/// assert_eq!(csip_slack::blocks::escape("R&D <b> \"x\""), "R&amp;D &lt;b&gt; \"x\"");
/// ```
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn mrkdwn_json(text: &str, limit: usize) -> Value {
    json!({"type": "mrkdwn", "text": truncate(text, limit, true)})
}

/// The non-blank pieces as mrkdwn text objects, each cut to `text_limit`,
/// at most `count` of them (the last saying `…` when there were more).
fn capped(pieces: &[Mrkdwn], count: usize, text_limit: usize) -> Vec<Value> {
    let shown: Vec<&Mrkdwn> = pieces.iter().filter(|p| !p.is_blank()).collect();
    if shown.len() <= count {
        return shown
            .iter()
            .map(|p| mrkdwn_json(p.as_str(), text_limit))
            .collect();
    }
    let mut out: Vec<Value> = shown[..count - 1]
        .iter()
        .map(|p| mrkdwn_json(p.as_str(), text_limit))
        .collect();
    out.push(mrkdwn_json(&ELLIPSIS.to_string(), text_limit));
    out
}

/// `text` cut to at most `limit` UTF-16 code units with `…` at the end when
/// it is longer. Escaped mrkdwn (`escaped`) is not cut inside an entity
/// (`&amp;`) or a `<…>` link or mention, which would show as garbage.
fn truncate(text: &str, limit: usize, escaped: bool) -> String {
    if text.encode_utf16().count() <= limit {
        return text.to_string();
    }
    let budget = limit.saturating_sub(ELLIPSIS.len_utf16());
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        used += c.len_utf16();
        if used > budget {
            break;
        }
        end = at + c.len_utf8();
    }
    let mut cut = &text[..end];
    if escaped {
        if let Some(open) = cut.rfind('<')
            && !cut[open..].contains('>')
        {
            cut = &cut[..open];
        }
        if let Some(amp) = cut.rfind('&')
            && !cut[amp..].contains(';')
        {
            cut = &cut[..amp];
        }
    }
    let mut out = cut.trim_end().to_string();
    out.push(ELLIPSIS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str) -> usize {
        text.encode_utf16().count()
    }

    #[test]
    fn each_block_has_slacks_documented_shape() {
        let message = Message::in_channel("Fallback")
            .block(Block::header("A Heartfelt Header"))
            .block(Block::section("Plain & simple"))
            .block(Block::fields(
                Mrkdwn::new().bold("Gard AS"),
                vec![
                    Mrkdwn::new().bold("Health").plain("\n72"),
                    Mrkdwn::new().bold("Risk").plain("\nLow"),
                ],
            ))
            .block(Block::Divider)
            .block(Block::context(vec![
                "Updated by ".into(),
                Mrkdwn::new().user("U2CERLKJA"),
            ]));
        assert_eq!(
            message.to_json(),
            json!({
                "response_type": "in_channel",
                "text": "Fallback",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "A Heartfelt Header"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "Plain &amp; simple"}},
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": "*Gard AS*"},
                        "fields": [
                            {"type": "mrkdwn", "text": "*Health*\n72"},
                            {"type": "mrkdwn", "text": "*Risk*\nLow"}
                        ]
                    },
                    {"type": "divider"},
                    {
                        "type": "context",
                        "elements": [
                            {"type": "mrkdwn", "text": "Updated by "},
                            {"type": "mrkdwn", "text": "<@U2CERLKJA>"}
                        ]
                    }
                ]
            })
        );
    }

    #[test]
    fn a_section_of_fields_only_has_no_text() {
        let block = Block::fields(Mrkdwn::new(), vec!["a".into(), " ".into(), "b".into()]);
        assert_eq!(
            block.to_json(),
            Some(json!({"type": "section", "fields": [
                {"type": "mrkdwn", "text": "a"},
                {"type": "mrkdwn", "text": "b"}
            ]}))
        );
    }

    #[test]
    fn the_post_body_has_the_channel_and_no_response_type() {
        let message = Message::ephemeral("a > b").block(Block::Divider);
        assert_eq!(
            message.to_post_json("C123"),
            json!({"channel": "C123", "text": "a &gt; b", "blocks": [{"type": "divider"}]})
        );
        assert_eq!(serde_json::to_value(&message).ok(), Some(message.to_json()));
    }

    #[test]
    fn text_is_escaped_everywhere_but_in_formatting() {
        let message = Message::ephemeral("<!channel> & <@U1>")
            .block(Block::section(
                Mrkdwn::new()
                    .plain("1 < 2 > 0 & ")
                    .code("a&b")
                    .formatted(" <https://x.test|x>"),
            ))
            .block(Block::context(vec![
                Mrkdwn::new().italic("<i>"),
                Mrkdwn::new().user("U1> <!here"),
            ]));
        assert_eq!(
            message.to_json(),
            json!({
                "response_type": "ephemeral",
                "text": "&lt;!channel&gt; &amp; &lt;@U1&gt;",
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "1 &lt; 2 &gt; 0 &amp; `a&amp;b` <https://x.test|x>"}},
                    {"type": "context", "elements": [
                        {"type": "mrkdwn", "text": "_&lt;i&gt;_"},
                        {"type": "mrkdwn", "text": "U1&gt; &lt;!here"}
                    ]}
                ]
            })
        );
        // Other characters are left alone (not HTML-escaped).
        assert_eq!(escape("it's \"ok\" é"), "it's \"ok\" é");
    }

    #[test]
    fn the_header_is_plain_text_not_escaped() {
        assert_eq!(
            Block::header("R&D <EMEA>").to_json(),
            Some(json!({"type": "header", "text": {"type": "plain_text", "text": "R&D <EMEA>"}}))
        );
    }

    #[test]
    fn empty_blocks_are_left_out() {
        let message = Message::ephemeral("x")
            .block(Block::header("  "))
            .block(Block::section(""))
            .block(Block::fields("", vec!["".into()]))
            .block(Block::context(vec![" ".into()]));
        assert_eq!(
            message.to_json(),
            json!({"response_type": "ephemeral", "text": "x"})
        );
    }

    #[test]
    fn long_section_text_is_cut_with_an_ellipsis() {
        let text = "a".repeat(5000);
        let Some(block) = Block::section(text.as_str()).to_json() else {
            panic!("a section")
        };
        let cut = block["text"]["text"].as_str().unwrap_or_default();
        assert_eq!(utf16(cut), MAX_SECTION_TEXT);
        assert_eq!(cut, format!("{}…", "a".repeat(MAX_SECTION_TEXT - 1)));
        // Exactly at the limit: untouched.
        let exact = "b".repeat(MAX_SECTION_TEXT);
        let Some(block) = Block::section(exact.as_str()).to_json() else {
            panic!("a section")
        };
        assert_eq!(block["text"]["text"].as_str(), Some(exact.as_str()));
    }

    #[test]
    fn a_cut_never_splits_an_escape_a_link_or_a_character() {
        // "&amp;" would straddle the cut.
        let text = format!("{}&", "a".repeat(MAX_SECTION_TEXT - 3));
        let cut = truncate(&escape(&text), MAX_SECTION_TEXT, true);
        assert_eq!(cut, format!("{}…", "a".repeat(MAX_SECTION_TEXT - 3)));
        // A mention would straddle it.
        let text = Mrkdwn::from("a".repeat(MAX_SECTION_TEXT - 5).as_str()).user("U2CERLKJA");
        let cut = truncate(text.as_str(), MAX_SECTION_TEXT, true);
        assert_eq!(cut, format!("{}…", "a".repeat(MAX_SECTION_TEXT - 5)));
        // Astral characters count two and are never halved.
        let text = "😀".repeat(MAX_SECTION_TEXT);
        let cut = truncate(&text, MAX_SECTION_TEXT, true);
        assert!(utf16(&cut) <= MAX_SECTION_TEXT);
        assert_eq!(cut, format!("{}…", "😀".repeat((MAX_SECTION_TEXT - 1) / 2)));
    }

    #[test]
    fn the_header_is_cut_at_150() {
        let Some(block) = Block::header("h".repeat(200)).to_json() else {
            panic!("a header")
        };
        assert_eq!(
            block["text"]["text"],
            json!(format!("{}…", "h".repeat(149)))
        );
    }

    #[test]
    fn the_fallback_text_is_cut_at_its_limit() {
        let message = Message::ephemeral("<".repeat(MAX_MESSAGE_TEXT));
        let text = message.to_json()["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(utf16(&text) <= MAX_MESSAGE_TEXT);
        assert!(text.ends_with("&lt;…"), "{}", &text[text.len() - 20..]);
    }

    #[test]
    fn more_than_ten_fields_or_elements_end_with_an_ellipsis() {
        let many: Vec<Mrkdwn> = (1..=12).map(|i| Mrkdwn::from(i.to_string())).collect();
        let Some(block) = Block::fields("", many.clone()).to_json() else {
            panic!("a section")
        };
        let fields = block["fields"].as_array().cloned().unwrap_or_default();
        assert_eq!(fields.len(), MAX_FIELDS);
        assert_eq!(fields[8], json!({"type": "mrkdwn", "text": "9"}));
        assert_eq!(fields[9], json!({"type": "mrkdwn", "text": "…"}));
        let Some(block) = Block::context(many).to_json() else {
            panic!("a context")
        };
        assert_eq!(
            block["elements"].as_array().map(Vec::len),
            Some(MAX_CONTEXT_ELEMENTS)
        );
        // A long field is cut at its own limit.
        let Some(block) = Block::fields("", vec!["f".repeat(2500).into()]).to_json() else {
            panic!("a section")
        };
        assert_eq!(
            block["fields"][0]["text"].as_str().map(utf16),
            Some(MAX_FIELD_TEXT)
        );
    }

    #[test]
    fn past_fifty_blocks_the_last_says_how_many_more() {
        let mut message = Message::ephemeral("x");
        for i in 0..60 {
            message = message.block(Block::section(format!("row {i}")));
        }
        let json = message.to_json();
        let blocks = json["blocks"].as_array().cloned().unwrap_or_default();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        assert_eq!(blocks[48]["text"]["text"], json!("row 48"));
        assert_eq!(
            blocks[49],
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "… and 11 more not shown"}]})
        );
        // Fifty fit as they are.
        let mut message = Message::ephemeral("x");
        for _ in 0..MAX_BLOCKS {
            message = message.block(Block::Divider);
        }
        assert_eq!(
            message.to_json()["blocks"].as_array().map(Vec::len),
            Some(MAX_BLOCKS)
        );
    }
}
