//! The metrics report in one e-mail message (DESIGN §5 "Ingest"): the
//! daily report arrives as a CSV attachment of a message such as
//! "Anypoint Daily Metrics" from `tableau-reports@company.com` (the
//! blueprint's Zapier search `from:tableau-reports@company.com
//! subject:"Anypoint Daily Metrics"`). [`csv_attachment`] reads a raw
//! message, tells whether it is ours by the `[ingest.mail]` rules
//! ([`MailRules`]), and returns the CSV's bytes. It reads no file and no
//! socket: `maildir.rs` and `imap.rs` bring the messages.
//!
//! Untrusted input, from any sender: calls into `mail-parser` run under
//! [`std::panic::catch_unwind`], so a parser bug is [`MailError::Malformed`]
//! rather than a crash (a build with `panic = "abort"` would still abort).
//! The parser is never shown a nested message, because it builds and drops
//! those recursively and a message nested a few thousand deep overflows
//! the stack, which no `catch_unwind` stops; forwarded messages are read
//! one level at a time here instead (`read_message`), at most
//! [`MAX_NESTED_MESSAGES`] deep. Size is the caller's to limit.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::{
    Encoding, GetHeader, HeaderName, MessageParser, MessagePart, MimeHeaders, PartType,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// A case-insensitive glob: `*` matches any run of characters (also none),
/// `?` exactly one; every other character matches itself, whatever its
/// case.
///
/// ```
/// use csip_ingest::mail::Pattern;
/// let from: Pattern = "*@company.com".parse().unwrap();
/// assert!(from.matches("Tableau-Reports@Company.com"));
/// assert!(!from.matches("tableau-reports@company.com.evil.example"));
///
/// // A subject pattern without `*` only has to appear in the subject.
/// let subject: Pattern = "Anypoint Daily Metrics".parse().unwrap();
/// assert!(subject.matches_subject("Fwd: Anypoint daily metrics (Nov 24)"));
/// assert!(!subject.matches("Fwd: Anypoint daily metrics (Nov 24)"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    /// As written, for messages.
    source: String,
    /// Lowercased, one `char` per element.
    lowered: Vec<char>,
}

/// A [`Pattern`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is empty.
    #[error(
        "a mail pattern is empty; write the text to match, or `*` for anything, or leave the key out"
    )]
    Empty,
}

impl Pattern {
    /// Whether the whole of `text` matches (an address, a file name).
    pub fn matches(&self, text: &str) -> bool {
        glob(&self.lowered, &lowercase(text))
    }

    /// Whether a subject matches: a pattern with a `*` must match the whole
    /// subject; one without only has to occur in it.
    pub fn matches_subject(&self, subject: &str) -> bool {
        if self.lowered.contains(&'*') {
            return self.matches(subject);
        }
        let mut anywhere = Vec::with_capacity(self.lowered.len() + 2);
        anywhere.push('*');
        anywhere.extend_from_slice(&self.lowered);
        anywhere.push('*');
        glob(&anywhere, &lowercase(subject))
    }

    /// The pattern as it was written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(source: &str) -> Result<Pattern, PatternError> {
        if source.is_empty() {
            return Err(PatternError::Empty);
        }
        Ok(Pattern {
            source: source.to_string(),
            lowered: lowercase(source),
        })
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Pattern, D::Error> {
        let source = String::deserialize(deserializer)?;
        source.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// Which messages are the metrics report, and which of their attachments
/// is the CSV: the `[ingest.mail]` section of the configuration. A rule
/// left out accepts anything.
///
/// ```
/// use csip_ingest::mail::MailRules;
/// let rules: MailRules = toml::from_str(
///     r#"
///     from = "tableau-reports@company.com"
///     subject = "Anypoint Daily Metrics"
///     attachment = "anypoint_*.csv"
///     mapping = "anypoint"
///     "#,
/// )
/// .unwrap();
/// assert_eq!(rules.mapping.as_deref(), Some("anypoint"));
/// ```
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct MailRules {
    /// The sender's address ([`Pattern::matches`], the whole address).
    pub from: Option<Pattern>,
    /// The subject ([`Pattern::matches_subject`]: without `*`, contained).
    pub subject: Option<Pattern>,
    /// The attachment's file name ([`Pattern::matches`]); without it the
    /// one CSV attachment is taken.
    pub attachment: Option<Pattern>,
    /// The name of the CSV column mapping to read the report with; carried
    /// here for the caller.
    pub mapping: Option<String>,
}

/// One attachment: its file name and its bytes, transfer encoding
/// (base64, quoted-printable) undone.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name the message gives it; empty when it has none (a
    /// message whose whole body is the CSV).
    pub name: String,
    /// The content. A text part that declares its charset arrives as UTF-8;
    /// one that does not keeps its bytes, for the CSV reader to decode.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .finish()
    }
}

/// The report found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// What identifies the message, for the caller to record with the data
    /// it commits so that the same message is never applied twice: its
    /// `Message-ID` without `<>`, or `sha256:` and the hex digest of the
    /// raw message when it has none.
    pub key: String,
    /// The sender's address, of the message the rules matched (the
    /// forwarded one when only it matched).
    pub from: String,
    /// Its subject.
    pub subject: String,
    /// The CSV.
    pub attachment: Attachment,
}

/// Why a message gave no report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The sender or the subject does not match the rules: the message is
    /// not ours, and is left alone.
    #[error(
        "the message is not the metrics report ({reason}); if it should be, widen `from` or `subject` in [ingest.mail]"
    )]
    NotMatching {
        /// Which rule it failed, and what it had.
        reason: String,
    },
    /// No attachment is a CSV (or matches the `attachment` pattern).
    #[error(
        "the message has no CSV attachment; have the report sent with its CSV attached, or set `attachment` in [ingest.mail] to the file's name"
    )]
    NoCsv,
    /// No `attachment` pattern and more than one CSV.
    #[error(
        "the message has several CSV attachments ({}); set `attachment` in [ingest.mail] to a pattern that picks one",
        names.join(", ")
    )]
    SeveralCsv {
        /// Their file names, in the message's order.
        names: Vec<String>,
    },
    /// The message could not be read (no headers, a CSV cut short or
    /// badly encoded, nesting too deep, or the parser failed on it).
    #[error(
        "the message could not be read ({reason}); have it sent again, whole, as an ordinary e-mail"
    )]
    Malformed {
        /// What was wrong.
        reason: String,
    },
}

/// What the caller did with a message handed to it by `maildir::process`
/// or `imap::process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Its report was committed (or had been already: the key was
    /// recorded).
    Committed,
    /// It was rejected, and the failure recorded.
    Rejected {
        /// Why, for the run's summary.
        reason: String,
    },
}

/// The caller could not record anything about a message (the store
/// failed): processing stops and the message is left as it was, to be read
/// again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HandleError(pub String);

/// How deep messages may be forwarded inside one another; a message nested
/// deeper is [`MailError::Malformed`].
pub const MAX_NESTED_MESSAGES: usize = 32;

/// The report in the raw message `raw`, by `rules`.
///
/// The message is ours when its `From` address and `Subject` match the
/// rules or, failing that, when those of a message forwarded inside it
/// (`message/rfc822`) do. The CSV is then looked for in the matching
/// message, forwarded messages included, in the message's order: the first
/// attachment whose file name matches `rules.attachment` when it is set;
/// otherwise the only part named `*.csv` or typed `text/csv`,
/// `text/comma-separated-values` or `application/vnd.ms-excel` (a message
/// whose single part is typed `text/csv` counts). The messages of a
/// `multipart/digest` are not looked into.
///
/// A message cut short inside the CSV's encoding is
/// [`MailError::Malformed`]; one cut before the CSV begins is
/// [`MailError::NoCsv`]. This never panics on any input.
pub fn csv_attachment(raw: &[u8], rules: &MailRules) -> Result<Found, MailError> {
    let message = read_message(raw, 0).map_err(|unread| MailError::Malformed {
        reason: match unread {
            Unread::TooDeep => {
                format!("it forwards messages more than {MAX_NESTED_MESSAGES} deep")
            }
            Unread::Unreadable(reason) => reason,
        },
    })?;
    let key = match &message.message_id {
        Some(id) => id.clone(),
        None => digest_key(raw),
    };
    let (ours, from, subject) = matching_message(&message, rules)?;
    let attachment = pick_attachment(ours, rules)?;
    Ok(Found {
        key,
        from,
        subject,
        attachment,
    })
}

/// One message as this module reads it: its headers, and its leaf parts and
/// forwarded messages in order.
struct Mail {
    /// The sender's address; empty when there is none.
    from: String,
    /// The subject; empty when there is none.
    subject: String,
    /// The `Message-ID` without `<>`, when it has one.
    message_id: Option<String>,
    /// Its parts, in order.
    items: Vec<Item>,
}

/// A leaf part or a forwarded message.
enum Item {
    /// A part with content.
    Part(Part),
    /// A forwarded message (`message/rfc822` or `message/global`).
    Forwarded(Mail),
}

/// A leaf part.
struct Part {
    /// Its file name (`Content-Disposition` `filename`, else
    /// `Content-Type` `name`).
    name: Option<String>,
    /// Whether its content type is one a CSV is sent as.
    csv_typed: bool,
    /// Its content, or why it cannot be read.
    content: Result<Vec<u8>, String>,
}

/// Why a message could not be read.
enum Unread {
    /// It is forwarded more than [`MAX_NESTED_MESSAGES`] deep.
    TooDeep,
    /// It has no headers, or the parser failed on it.
    Unreadable(String),
}

/// Reads one message, `depth` messages deep. A forwarded message that
/// cannot be read is kept as an opaque part (an empty `.eml` attached next
/// to the report does not hide it); one too deep stops the whole message.
///
/// `mail-parser` builds a message forwarded inside another as a tree that
/// it builds and drops recursively, so a message nested many thousands
/// deep (a few hundred kilobytes) overflows the stack, which aborts the
/// process rather than panicking. So it is never shown a nested message:
/// it parses a copy in which every `message` and `digest` has its last
/// letter changed (same length, so every offset holds in the original),
/// which makes each forwarded message an opaque part; this function then
/// reads that part's bytes as a message of its own, one level deeper, up
/// to [`MAX_NESTED_MESSAGES`]. Names, headers and contents are read from
/// the original bytes.
fn read_message(raw: &[u8], depth: usize) -> Result<Mail, Unread> {
    if depth > MAX_NESTED_MESSAGES {
        return Err(Unread::TooDeep);
    }
    let no_headers = || Unread::Unreadable("it has no e-mail headers".to_string());
    let headers = parse_guarded(|| MessageParser::new().parse_headers(raw))?
        .and_then(|message| message.parts.into_iter().next())
        .ok_or_else(no_headers)?;
    let from = headers
        .headers
        .header_value(&HeaderName::From)
        .and_then(|value| value.as_address())
        .and_then(|address| address.first())
        .and_then(|addr| addr.address())
        .unwrap_or_default()
        .to_string();
    let subject = headers
        .headers
        .header_value(&HeaderName::Subject)
        .and_then(|value| value.as_text())
        .unwrap_or_default()
        .to_string();
    let message_id = headers
        .headers
        .header_value(&HeaderName::MessageId)
        .and_then(|value| value.as_text())
        .map(|id| {
            id.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
        })
        .filter(|id| !id.is_empty())
        .map(str::to_string);

    let flat = without_nesting(raw);
    let parsed = parse_guarded(|| MessageParser::new().parse(&flat))?.ok_or_else(no_headers)?;
    let mut items = Vec::new();
    for part in &parsed.parts {
        if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
            continue;
        }
        let start = part.offset_header as usize;
        let body = part.offset_body as usize;
        let end = part.offset_end as usize;
        let own_headers = raw
            .get(start..body)
            .map(|bytes| parse_guarded(|| MessageParser::new().parse_headers(bytes)))
            .transpose()?
            .flatten()
            .and_then(|message| message.parts.into_iter().next())
            .unwrap_or_default();
        let content = if part.is_encoding_problem {
            Err("it is cut short or not validly encoded".to_string())
        } else {
            raw.get(body..end)
                .ok_or_else(|| "it is cut short".to_string())
                .and_then(|bytes| transfer_decoded(bytes, part.encoding))
        };
        let forwarded = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("messagx")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("rfc822") || s.eq_ignore_ascii_case("global")
                })
        });
        let name = own_headers.attachment_name().map(str::to_string);
        if forwarded && let Ok(bytes) = &content {
            match read_message(bytes, depth + 1) {
                Ok(inner) => items.push(Item::Forwarded(inner)),
                Err(Unread::TooDeep) => return Err(Unread::TooDeep),
                Err(Unread::Unreadable(why)) => items.push(Item::Part(Part {
                    name,
                    csv_typed: false,
                    content: Err(format!("the forwarded message in it is unreadable: {why}")),
                })),
            }
            continue;
        }
        items.push(Item::Part(Part {
            name,
            csv_typed: is_csv_type(&own_headers),
            content: content.map(|bytes| charset_decoded(bytes, &own_headers)),
        }));
    }
    Ok(Mail {
        from,
        subject,
        message_id,
        items,
    })
}

/// Runs a call into `mail-parser`, a panic in it becoming
/// [`Unread::Unreadable`].
fn parse_guarded<T>(parse: impl FnOnce() -> T) -> Result<T, Unread> {
    catch_unwind(AssertUnwindSafe(parse))
        .map_err(|_| Unread::Unreadable("the e-mail parser failed on it".to_string()))
}

/// A copy of `raw` in which no content type can name a nested message:
/// the last letter of every `message` and `digest`, in any case, is
/// changed to `x` (`X` if it was upper case).
fn without_nesting(raw: &[u8]) -> Vec<u8> {
    let mut flat = raw.to_vec();
    for word in [&b"message"[..], &b"digest"[..]] {
        let mut at = 0;
        while let Some(window) = flat.get(at..at + word.len()) {
            if window.eq_ignore_ascii_case(word) {
                if let Some(last) = flat.get_mut(at + word.len() - 1) {
                    *last = if last.is_ascii_uppercase() {
                        b'X'
                    } else {
                        b'x'
                    };
                }
                at += word.len();
            } else {
                at += 1;
            }
        }
    }
    flat
}

/// A body with its transfer encoding undone.
fn transfer_decoded(bytes: &[u8], encoding: Encoding) -> Result<Vec<u8>, String> {
    match encoding {
        Encoding::None => Ok(bytes.to_vec()),
        Encoding::Base64 => {
            base64_decode(bytes).ok_or_else(|| "its base64 is not valid".to_string())
        }
        Encoding::QuotedPrintable => quoted_printable_decode(bytes)
            .ok_or_else(|| "its quoted-printable is not valid".to_string()),
    }
}

/// A text part's bytes in UTF-8 when it declares another charset that is
/// known; otherwise as they are (UTF-8, ASCII, or undeclared: the CSV
/// reader checks and decodes them).
fn charset_decoded(bytes: Vec<u8>, headers: &MessagePart<'_>) -> Vec<u8> {
    let Some(ct) = headers.content_type() else {
        return bytes;
    };
    if !ct.ctype().eq_ignore_ascii_case("text") {
        return bytes;
    }
    let Some(charset) = ct.attribute("charset") else {
        return bytes;
    };
    let charset = charset.trim();
    let passes = ["utf-8", "utf8", "us-ascii", "ascii"];
    if passes.iter().any(|c| charset.eq_ignore_ascii_case(c)) {
        return bytes;
    }
    match charset_decoder(charset.as_bytes()) {
        Some(decode) => decode(&bytes).into_bytes(),
        None => bytes,
    }
}

/// `sha256:` and the hex digest of `raw`.
fn digest_key(raw: &[u8]) -> String {
    let digest = Sha256::digest(raw);
    let mut key = String::with_capacity(7 + 64);
    key.push_str("sha256:");
    for byte in digest.iter() {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// The message the rules accept (`message` itself, else the first message
/// forwarded inside it that they accept), with its sender and subject.
fn matching_message<'m>(
    message: &'m Mail,
    rules: &MailRules,
) -> Result<(&'m Mail, String, String), MailError> {
    let reason = match check_rules(message, rules) {
        Ok(()) => return Ok((message, message.from.clone(), message.subject.clone())),
        Err(reason) => reason,
    };
    // Depth-first, in the message's order.
    let mut stack: Vec<&'m Mail> = forwarded(message).rev().collect();
    while let Some(inner) = stack.pop() {
        if check_rules(inner, rules).is_ok() {
            return Ok((inner, inner.from.clone(), inner.subject.clone()));
        }
        stack.extend(forwarded(inner).rev());
    }
    Err(MailError::NotMatching { reason })
}

/// The messages forwarded directly inside `message`.
fn forwarded(message: &Mail) -> impl DoubleEndedIterator<Item = &Mail> {
    message.items.iter().filter_map(|item| match item {
        Item::Forwarded(inner) => Some(inner),
        Item::Part(_) => None,
    })
}

/// Whether the rules accept the sender and the subject of `message`, else
/// why not.
fn check_rules(message: &Mail, rules: &MailRules) -> Result<(), String> {
    let Mail { from, subject, .. } = message;
    if let Some(pattern) = &rules.from
        && !pattern.matches(from)
    {
        return Err(if from.is_empty() {
            format!("it has no sender address; `from` is {pattern:?}")
        } else {
            format!("sender {from:?} does not match `from` {pattern:?}")
        });
    }
    if let Some(pattern) = &rules.subject
        && !pattern.matches_subject(subject)
    {
        return Err(format!(
            "subject {subject:?} does not match `subject` {pattern:?}"
        ));
    }
    Ok(())
}

/// The leaf parts of `message` and of the messages forwarded in it, in the
/// message's order.
fn parts(message: &Mail) -> Vec<&Part> {
    let mut out = Vec::new();
    let mut stack: Vec<std::slice::Iter<'_, Item>> = vec![message.items.iter()];
    while let Some(items) = stack.last_mut() {
        match items.next() {
            None => {
                stack.pop();
            }
            Some(Item::Part(part)) => out.push(part),
            Some(Item::Forwarded(inner)) => stack.push(inner.items.iter()),
        }
    }
    out
}

/// The CSV attachment of `message` by `rules`.
fn pick_attachment(message: &Mail, rules: &MailRules) -> Result<Attachment, MailError> {
    let parts = parts(message);
    let chosen = match &rules.attachment {
        Some(pattern) => *parts
            .iter()
            .find(|part| {
                part.name
                    .as_deref()
                    .is_some_and(|name| pattern.matches(name))
            })
            .ok_or(MailError::NoCsv)?,
        None => {
            let csvs: Vec<&Part> = parts.into_iter().filter(|part| is_csv(part)).collect();
            match csvs.as_slice() {
                [] => return Err(MailError::NoCsv),
                [one] => *one,
                several => {
                    return Err(MailError::SeveralCsv {
                        names: several
                            .iter()
                            .map(|part| part.name.clone().unwrap_or_default())
                            .collect(),
                    });
                }
            }
        }
    };
    let name = chosen.name.clone().unwrap_or_default();
    match &chosen.content {
        Ok(bytes) => Ok(Attachment {
            name,
            bytes: bytes.clone(),
        }),
        Err(why) => Err(MailError::Malformed {
            reason: format!("attachment {name:?} cannot be read: {why}"),
        }),
    }
}

/// Whether a part is a CSV, by its file name or its content type.
fn is_csv(part: &Part) -> bool {
    let named_csv = part.name.as_deref().is_some_and(|name| {
        name.len()
            .checked_sub(4)
            .and_then(|start| name.get(start..))
            .is_some_and(|end| end.eq_ignore_ascii_case(".csv"))
    });
    named_csv || part.csv_typed
}

/// Whether a part's content type is one a CSV is sent as.
fn is_csv_type(headers: &MessagePart<'_>) -> bool {
    headers.content_type().is_some_and(|ct| {
        let subtype = ct.subtype().unwrap_or("");
        let is = |t: &str, s: &str| {
            ct.ctype().eq_ignore_ascii_case(t) && subtype.eq_ignore_ascii_case(s)
        };
        is("text", "csv")
            || is("text", "comma-separated-values")
            || is("application", "vnd.ms-excel")
    })
}

/// `text` lowercased, one `char` per element.
fn lowercase(text: &str) -> Vec<char> {
    text.to_lowercase().chars().collect()
}

/// Whether `text` matches `pattern` whole (both lowercased): `*` any run,
/// `?` one character. Linear backtracking to the last `*`, so at most
/// `pattern.len() * text.len()` steps.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    // After a `*`: where in the pattern to resume, and where in the text
    // the `*`'s run ends so far.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, t));
                p += 1;
            }
            Some(&c) if c == '?' || Some(&c) == text.get(t) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((resume, run_end)) => {
                    p = resume;
                    t = run_end + 1;
                    star = Some((resume, run_end + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(source: &str) -> Pattern {
        source.parse().expect("a valid pattern")
    }

    #[test]
    fn globs_match_whole_and_ignore_case() {
        let cases = [
            (
                "tableau-reports@company.com",
                "Tableau-Reports@COMPANY.com",
                true,
            ),
            (
                "tableau-reports@company.com",
                "xtableau-reports@company.com",
                false,
            ),
            ("*@company.com", "a@company.com", true),
            ("*@company.com", "@company.com", true),
            ("*@company.com", "a@company.co", false),
            ("anypoint_*.csv", "Anypoint_2026-11-24.CSV", true),
            ("anypoint_*.csv", "anypoint_2026-11-24.csv.zip", false),
            ("report-????.csv", "report-2026.csv", true),
            ("report-????.csv", "report-26.csv", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
            ("*", "", true),
            ("?", "", false),
            ("gård*", "GÅRD AS", true),
        ];
        for (p, text, expected) in cases {
            assert_eq!(pattern(p).matches(text), expected, "{p:?} on {text:?}");
        }
    }

    #[test]
    fn a_subject_pattern_without_a_star_is_contained() {
        let p = pattern("Anypoint Daily Metrics");
        assert!(p.matches_subject("Anypoint Daily Metrics"));
        assert!(p.matches_subject("Fwd: ANYPOINT daily metrics 2026-11-24"));
        assert!(!p.matches_subject("Anypoint Weekly Metrics"));
        let anchored = pattern("Anypoint*");
        assert!(anchored.matches_subject("Anypoint Daily Metrics"));
        assert!(!anchored.matches_subject("Fwd: Anypoint Daily Metrics"));
        let one = pattern("Metrics ?");
        assert!(one.matches_subject("Daily Metrics A (2026)"));
        assert!(!one.matches_subject("Daily Metrics"));
    }

    #[test]
    fn an_empty_pattern_is_refused_and_rules_refuse_unknown_keys() {
        assert_eq!("".parse::<Pattern>(), Err(PatternError::Empty));
        let err = toml::from_str::<MailRules>("subject = \"\"").expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        let err = toml::from_str::<MailRules>("sender = \"a@b\"").expect_err("unknown key");
        assert!(err.to_string().contains("sender"), "{err}");
        let rules: MailRules = toml::from_str("from = \"*@company.com\"").expect("valid");
        assert_eq!(
            rules.from.map(|p| p.to_string()).as_deref(),
            Some("*@company.com")
        );
    }

    #[test]
    fn the_key_is_the_message_id_or_a_digest() {
        let rules = MailRules::default();
        let with_id = b"Message-ID: <abc@x>\r\nContent-Type: text/csv\r\n\r\na,b\r\n";
        let found = csv_attachment(with_id, &rules).expect("a csv");
        assert_eq!(found.key, "abc@x");
        let without = b"Subject: s\r\nContent-Type: text/csv\r\n\r\na,b\r\n";
        let found = csv_attachment(without, &rules).expect("a csv");
        // As `printf 'Subject: s\r\n...' | sha256sum` prints it.
        assert_eq!(
            found.key,
            "sha256:fe48a65e628cfe7ea3fff972c0b23fd05849d7fa091d915ce293a948074ecb4f"
        );
        // Stable, and a different message has a different key.
        assert_eq!(
            csv_attachment(without, &rules).expect("a csv").key,
            found.key
        );
        let other = b"Subject: t\r\nContent-Type: text/csv\r\n\r\na,b\r\n";
        assert_ne!(csv_attachment(other, &rules).expect("a csv").key, found.key);
    }

    #[test]
    fn a_text_csv_without_charset_keeps_its_bytes() {
        // "Gård" in Latin-1, base64: R+VyZA==
        let raw = b"From: a@b\r\nContent-Type: text/csv\r\nContent-Transfer-Encoding: base64\r\n\r\nR+VyZA==\r\n";
        let found = csv_attachment(raw, &MailRules::default()).expect("a csv");
        assert_eq!(found.attachment.bytes, b"G\xe5rd");
        // With a declared charset it arrives as UTF-8.
        let raw = b"From: a@b\r\nContent-Type: text/csv; charset=iso-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\nR+VyZA==\r\n";
        let found = csv_attachment(raw, &MailRules::default()).expect("a csv");
        assert_eq!(found.attachment.bytes, "Gård".as_bytes());
    }

    /// `levels` messages each forwarded in the next, around a CSV.
    fn nested(levels: usize) -> Vec<u8> {
        let mut raw = Vec::new();
        for _ in 0..levels {
            raw.extend_from_slice(b"From: a@b\r\nContent-Type: message/rfc822\r\n\r\n");
        }
        raw.extend_from_slice(b"From: a@b\r\nContent-Type: text/csv\r\n\r\na,b\r\n");
        raw
    }

    /// Standard base64 with CRLF every 76 characters.
    fn base64(bytes: &[u8]) -> Vec<u8> {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        for (i, chunk) in bytes.chunks(3).enumerate() {
            if i > 0 && i % 19 == 0 {
                out.extend_from_slice(b"\r\n");
            }
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (j, &b)| n | u32::from(b) << (16 - 8 * j));
            for k in 0..4 {
                out.push(if k <= chunk.len() {
                    ALPHABET[(n >> (18 - 6 * k) & 63) as usize]
                } else {
                    b'='
                });
            }
        }
        out
    }

    #[test]
    fn forwarded_messages_are_read_to_a_depth_and_no_deeper() {
        let found = csv_attachment(&nested(3), &MailRules::default()).expect("nested csv");
        assert_eq!(found.attachment.bytes, b"a,b\r\n");
        let found = csv_attachment(&nested(MAX_NESTED_MESSAGES), &MailRules::default())
            .expect("nested csv");
        assert_eq!(found.attachment.bytes, b"a,b\r\n");
        let err = csv_attachment(&nested(MAX_NESTED_MESSAGES + 1), &MailRules::default())
            .expect_err("too deep");
        assert!(
            matches!(&err, MailError::Malformed { reason } if reason.contains("deep")),
            "{err:?}"
        );
    }

    /// mail-parser itself overflows the stack (an abort, not a panic) on
    /// both of these: 20,000 levels plainly, or 5,000 inside one base64
    /// part (about 200 kB).
    #[test]
    fn deep_nesting_is_refused_without_a_crash() {
        let err = csv_attachment(&nested(20_000), &MailRules::default()).expect_err("too deep");
        assert!(matches!(err, MailError::Malformed { .. }), "{err:?}");
        let mut raw = b"From: a@b\r\nContent-Type: message/rfc822\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(&base64(&nested(5_000)));
        let err = csv_attachment(&raw, &MailRules::default()).expect_err("too deep");
        assert!(matches!(err, MailError::Malformed { .. }), "{err:?}");
        // One base64-encoded forwarded message is read.
        let mut raw = b"From: a@b\r\nContent-Type: message/rfc822\r\n\
            Content-Transfer-Encoding: base64\r\n\r\n"
            .to_vec();
        raw.extend_from_slice(&base64(&nested(1)));
        let found = csv_attachment(&raw, &MailRules::default()).expect("nested csv");
        assert_eq!(found.attachment.bytes, b"a,b\r\n");
    }

    #[test]
    fn an_unreadable_forwarded_message_does_not_hide_the_report() {
        let raw = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
            --b\r\nContent-Type: message/rfc822; name=\"empty.eml\"\r\n\r\n\r\n\
            --b\r\nContent-Type: text/csv; name=\"r.csv\"\r\n\r\na,b\r\n\
            --b--\r\n";
        let found = csv_attachment(raw, &MailRules::default()).expect("the csv");
        assert_eq!(found.attachment.name, "r.csv");
        let rules = MailRules {
            attachment: Some(pattern("*.eml")),
            ..MailRules::default()
        };
        let err = csv_attachment(raw, &rules).expect_err("unreadable");
        assert!(
            matches!(&err, MailError::Malformed { reason } if reason.contains("empty.eml")),
            "{err:?}"
        );
    }

    #[test]
    fn the_words_message_and_digest_survive_in_names_headers_and_content() {
        let raw = b"From: Message Digest <digest@company.com>\r\n\
            Subject: Anypoint Daily Metrics digest (message 4)\r\n\
            Content-Type: multipart/mixed; boundary=\"message-digest\"\r\n\r\n\
            --message-digest\r\n\
            Content-Type: text/plain\r\n\r\n\
            This message has the digest.\r\n\
            --message-digest\r\n\
            Content-Type: text/csv; name=\"Message_Digest.csv\"\r\n\r\n\
            Account,Metric Name\r\nGard AS,Message Queue Digest\r\n\
            --message-digest--\r\n";
        let found = csv_attachment(raw, &MailRules::default()).expect("a csv");
        assert_eq!(found.from, "digest@company.com");
        assert_eq!(found.subject, "Anypoint Daily Metrics digest (message 4)");
        assert_eq!(found.attachment.name, "Message_Digest.csv");
        assert_eq!(
            found.attachment.bytes,
            // The CRLF before a boundary belongs to the boundary.
            b"Account,Metric Name\r\nGard AS,Message Queue Digest"
        );
    }

    // The fixtures: real messages, CRLF, in `tests/fixtures/mail/`.

    const CSV: &str = "Account,Metric Name,Current Value,Measured At\r\n\
        Gard AS,API Uptime,99.95%,2026-11-24T06:00:00Z\r\n\
        Gard AS,Active Users,1204,2026-11-24T06:00:00Z\r\n\
        Nordic Freight,API Uptime,98.70%,2026-11-24T06:00:00Z\r\n";

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The rules of the blueprint's Zapier search.
    fn report_rules() -> MailRules {
        MailRules {
            from: Some(pattern("tableau-reports@company.com")),
            subject: Some(pattern("Anypoint Daily Metrics")),
            attachment: None,
            mapping: None,
        }
    }

    /// What a fixture must give: the attachment's name and bytes, or an
    /// error.
    enum Expect {
        Csv {
            key: &'static str,
            name: &'static str,
            bytes: String,
        },
        Error(fn(&MailError) -> bool),
    }

    fn check(fixture_name: &str, rules: &MailRules, expect: Expect) {
        let got = csv_attachment(&fixture(fixture_name), rules);
        match (expect, got) {
            (Expect::Csv { key, name, bytes }, Ok(found)) => {
                assert_eq!(found.key, key, "{fixture_name}");
                assert_eq!(found.attachment.name, name, "{fixture_name}");
                assert_eq!(
                    String::from_utf8_lossy(&found.attachment.bytes),
                    bytes,
                    "{fixture_name}"
                );
                assert_eq!(found.from, "tableau-reports@company.com", "{fixture_name}");
                assert_eq!(found.subject, "Anypoint Daily Metrics", "{fixture_name}");
            }
            (Expect::Error(is), Err(err)) => assert!(is(&err), "{fixture_name}: {err:?}"),
            (Expect::Csv { .. }, Err(err)) => panic!("{fixture_name}: expected a CSV, got {err:?}"),
            (Expect::Error(_), Ok(found)) => {
                panic!("{fixture_name}: expected an error, got {found:?}")
            }
        }
    }

    #[test]
    fn fixtures_give_their_csv() {
        let rules = report_rules();
        check(
            "single_part_csv.eml",
            &rules,
            Expect::Csv {
                key: "20261124060500.single@tableau.company.com",
                name: "",
                bytes: CSV.to_string(),
            },
        );
        check(
            "multipart_base64.eml",
            &rules,
            Expect::Csv {
                key: "20261124060500.b64@tableau.company.com",
                name: "anypoint_daily_metrics_2026-11-24.csv",
                bytes: CSV.to_string(),
            },
        );
        check(
            "quoted_printable.eml",
            &rules,
            Expect::Csv {
                key: "20261124060500.qp@tableau.company.com",
                name: "anypoint_daily_metrics.csv",
                bytes: CSV.replace("Nordic Freight", "Gård Shipping"),
            },
        );
        // Forwarded by a person: the outer message does not match `from`,
        // the forwarded one does; the key is the outer message's.
        check(
            "forwarded.eml",
            &rules,
            Expect::Csv {
                key: "fwd-8842@company.com",
                name: "anypoint_daily_metrics_2026-11-24.csv",
                bytes: CSV.to_string(),
            },
        );
        let daily = MailRules {
            attachment: Some(pattern("anypoint_daily_*.csv")),
            ..report_rules()
        };
        check(
            "two_csv.eml",
            &daily,
            Expect::Csv {
                key: "20261124060500.two@tableau.company.com",
                name: "anypoint_daily_metrics.csv",
                bytes: CSV.to_string(),
            },
        );
        // An attachment pattern picks the first match, CSV or not.
        let first = MailRules {
            attachment: Some(pattern("*.CSV")),
            ..report_rules()
        };
        let found = csv_attachment(&fixture("two_csv.eml"), &first).expect("a csv");
        assert_eq!(found.attachment.name, "anypoint_weekly_summary.csv");
    }

    #[test]
    fn fixtures_give_their_errors() {
        let rules = report_rules();
        check(
            "two_csv.eml",
            &rules,
            Expect::Error(|e| {
                *e == MailError::SeveralCsv {
                    names: vec![
                        "anypoint_weekly_summary.csv".into(),
                        "anypoint_daily_metrics.csv".into(),
                    ],
                }
            }),
        );
        let no_match = MailRules {
            attachment: Some(pattern("*.xlsx")),
            ..report_rules()
        };
        check(
            "two_csv.eml",
            &no_match,
            Expect::Error(|e| *e == MailError::NoCsv),
        );
        check(
            "no_csv.eml",
            &rules,
            Expect::Error(|e| *e == MailError::NoCsv),
        );
        // Cut inside the CSV's base64: Malformed, never a partial CSV.
        check(
            "truncated_in_base64.eml",
            &rules,
            Expect::Error(
                |e| matches!(e, MailError::Malformed { reason } if reason.contains("cut short")),
            ),
        );
        // Cut inside the headers, before any body: NoCsv.
        check(
            "truncated_in_headers.eml",
            &rules,
            Expect::Error(|e| *e == MailError::NoCsv),
        );
        check(
            "wrong_sender.eml",
            &rules,
            Expect::Error(|e| {
                matches!(e, MailError::NotMatching { reason }
                    if reason.contains("tableau-reports@company.com.evil.example"))
            }),
        );
        let weekly = MailRules {
            subject: Some(pattern("Weekly")),
            ..report_rules()
        };
        check(
            "multipart_base64.eml",
            &weekly,
            Expect::Error(
                |e| matches!(e, MailError::NotMatching { reason } if reason.contains("subject")),
            ),
        );
        // Without rules every fixture that has one CSV gives it.
        let any = MailRules::default();
        let found = csv_attachment(&fixture("wrong_sender.eml"), &any).expect("a csv");
        assert_eq!(found.attachment.bytes, CSV.as_bytes());
        let found = csv_attachment(&fixture("forwarded.eml"), &any).expect("a csv");
        assert_eq!(found.from, "ops@company.com");
    }

    #[test]
    fn fixtures_have_crlf_line_endings() {
        for name in [
            "single_part_csv.eml",
            "multipart_base64.eml",
            "quoted_printable.eml",
            "forwarded.eml",
            "two_csv.eml",
            "no_csv.eml",
            "truncated_in_base64.eml",
            "truncated_in_headers.eml",
            "wrong_sender.eml",
        ] {
            let raw = fixture(name);
            let bare_lf = raw
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'))
                .count();
            assert_eq!(bare_lf, 0, "{name} has bare LF line endings");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = csv_attachment(&raw, &report_rules());
            let _ = csv_attachment(&raw, &MailRules::default());
        }

        #[test]
        fn mutated_fixtures_never_panic(
            which in 0usize..6,
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            flips in proptest::collection::vec(
                (proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()),
                0..8,
            ),
        ) {
            let names = [
                "single_part_csv.eml",
                "multipart_base64.eml",
                "quoted_printable.eml",
                "forwarded.eml",
                "two_csv.eml",
                "no_csv.eml",
            ];
            let mut raw = fixture(names[which]);
            raw.truncate(cut.index(raw.len() + 1));
            if !raw.is_empty() {
                for (at, byte) in &flips {
                    let i = at.index(raw.len());
                    raw[i] = *byte;
                }
            }
            let _ = csv_attachment(&raw, &report_rules());
            let _ = csv_attachment(&raw, &MailRules::default());
        }
    }

    #[test]
    fn errors_say_what_to_do() {
        let several = MailError::SeveralCsv {
            names: vec!["a.csv".into(), "b.csv".into()],
        };
        assert_eq!(
            several.to_string(),
            "the message has several CSV attachments (a.csv, b.csv); set `attachment` in [ingest.mail] to a pattern that picks one"
        );
    }
}
