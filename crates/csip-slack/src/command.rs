//! The CSIP slash commands, from a command name and its text.
//!
//! The text is split into words at whitespace; a name with spaces may be
//! quoted with `"…"`, `'…'`, `“…”` or `‘…’` (Slack's clients turn straight
//! quotes into smart ones). A quote opens only at the start of a word and
//! closes only at the end of one, so `O'Brien` and `Macy’s` are words as
//! they stand.
//!
//! Names are resolved against the workbook by the server, not here: this
//! module says which words are the account, the metric or the value, or,
//! where that depends on the workbook (`/mulesoft-update`), every way they
//! could be, in the order to try them.

/// A word of a command's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The word, without its quotes.
    pub text: String,
    /// Whether it was quoted (a quoted `new` is a value, not the flag).
    pub quoted: bool,
}

/// Why a command's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A quote opened a name that no matching quote closes.
    #[error(
        "the {quote} before “{start}” is never closed: end the name with {close} (or leave the quotes out)"
    )]
    UnterminatedQuote {
        /// The opening quote.
        quote: char,
        /// The quote that would close it.
        close: char,
        /// The first words after it (up to 30 characters).
        start: String,
    },
    /// The command needs an account and has none.
    #[error("which account? Usage: {usage}")]
    MissingAccount {
        /// The command's usage line.
        usage: &'static str,
    },
    /// `/mulesoft-update` needs an account, a metric and a value.
    #[error("an account, a metric and a value are needed. Usage: {usage}")]
    MissingArguments {
        /// The command's usage line.
        usage: &'static str,
    },
}

/// What a scope of `/mulesoft-sync` syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SyncScope {
    /// The account's APIs (API_Portfolio).
    ApisOnly,
    /// The APIs and 30 days of their metrics: the default.
    #[default]
    ApisAndMetrics,
    /// Everything the sync knows.
    FullSync,
}

impl SyncScope {
    /// The scope as the blueprint names it: `APIs Only`, `APIs + Metrics`,
    /// `Full Sync`.
    pub fn name(self) -> &'static str {
        match self {
            SyncScope::ApisOnly => "APIs Only",
            SyncScope::ApisAndMetrics => "APIs + Metrics",
            SyncScope::FullSync => "Full Sync",
        }
    }

    /// The scope named by `text`, ignoring case and spaces (`apis only`,
    /// `APIs+Metrics`, `full sync`).
    pub fn from_name(text: &str) -> Option<SyncScope> {
        let folded: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        match folded.as_str() {
            "apisonly" => Some(SyncScope::ApisOnly),
            "apis+metrics" => Some(SyncScope::ApisAndMetrics),
            "fullsync" => Some(SyncScope::FullSync),
            _ => None,
        }
    }
}

/// The words of a `/mulesoft-update`: `<account> <metric> <value> [new]`.
///
/// Which words are the account and which the metric depends on the
/// workbook's names; [`Update::splits`] gives every candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The words before the value.
    pub names: Vec<Token>,
    /// The value: the last word (before a trailing `new`).
    pub value: String,
    /// Whether the text ended with an unquoted `new`: create the metric if
    /// the account has none of that name.
    pub create_new: bool,
}

/// One way to read a `/mulesoft-update`'s words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSplit {
    /// The account's name or id (never empty).
    pub account: String,
    /// The metric's name (never empty).
    pub metric: String,
    /// The value, as typed.
    pub value: String,
    /// Whether to create the metric if it does not exist.
    pub create_new: bool,
}

impl Update {
    /// Every way to split the words before the value into a non-empty
    /// account and a non-empty metric, the shortest account first (a quoted
    /// name is one word and never split). The server takes the first whose
    /// account and metric it finds.
    ///
    /// ```
    /// use csip_slack::command::{Command, UpdateSplit};
    /// let Command::Update { args } = Command::parse("/mulesoft-update", "Gard AS API Uptime 99.5")? else {
    ///     unreachable!()
    /// };
    /// let accounts: Vec<(String, String)> =
    ///     args.splits().map(|s| (s.account, s.metric)).collect();
    /// assert_eq!(accounts, [
    ///     ("Gard".into(), "AS API Uptime".into()),
    ///     ("Gard AS".into(), "API Uptime".into()),
    ///     ("Gard AS API".into(), "Uptime".into()),
    /// ]);
    /// # Ok::<(), csip_slack::command::CommandError>(())
    /// ```
    pub fn splits(&self) -> impl Iterator<Item = UpdateSplit> + '_ {
        (1..self.names.len()).filter_map(move |at| {
            let account = join(&self.names[..at]);
            let metric = join(&self.names[at..]);
            (!account.is_empty() && !metric.is_empty()).then(|| UpdateSplit {
                account,
                metric,
                value: self.value.clone(),
                create_new: self.create_new,
            })
        })
    }
}

/// A CSIP slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/mulesoft-update <account> <metric> <value> [new]`.
    Update {
        /// Its words.
        args: Update,
    },
    /// `/mulesoft-health <account>`.
    Health {
        /// The account's name or id: the whole text, quotes removed.
        account: String,
    },
    /// `/mulesoft-sync <account> [APIs Only|APIs + Metrics|Full Sync]`.
    Sync {
        /// The account's name or id.
        account: String,
        /// What to sync (`APIs + Metrics` when not said).
        scope: SyncScope,
    },
    /// `help`, an empty text, or a command csip does not know: usage text.
    Help,
}

/// The usage line of `/mulesoft-update`.
pub const UPDATE_USAGE: &str = "/mulesoft-update <account> <metric> <value> [new]";
/// The usage line of `/mulesoft-health`.
pub const HEALTH_USAGE: &str = "/mulesoft-health <account>";
/// The usage line of `/mulesoft-sync`.
pub const SYNC_USAGE: &str = "/mulesoft-sync <account> [APIs Only|APIs + Metrics|Full Sync]";

impl Command {
    /// Reads a command from its name (`/mulesoft-health`, with the slash)
    /// and its text.
    ///
    /// ```
    /// use csip_slack::command::{Command, SyncScope};
    /// assert_eq!(
    ///     Command::parse("/mulesoft-health", "“Gard AS”")?,
    ///     Command::Health { account: "Gard AS".into() }
    /// );
    /// assert_eq!(
    ///     Command::parse("/mulesoft-sync", "Gard AS full sync")?,
    ///     Command::Sync { account: "Gard AS".into(), scope: SyncScope::FullSync }
    /// );
    /// assert_eq!(Command::parse("/mulesoft-health", "help")?, Command::Help);
    /// assert!(Command::parse("/mulesoft-health", "\"Gard AS").is_err());
    /// # Ok::<(), csip_slack::command::CommandError>(())
    /// ```
    pub fn parse(command: &str, text: &str) -> Result<Command, CommandError> {
        let kind = match command.trim() {
            "/mulesoft-update" => Kind::Update,
            "/mulesoft-health" => Kind::Health,
            "/mulesoft-sync" => Kind::Sync,
            _ => return Ok(Command::Help),
        };
        let tokens = tokenize(text)?;
        match tokens.as_slice() {
            [] => return Ok(Command::Help),
            [only] if !only.quoted && only.text.eq_ignore_ascii_case("help") => {
                return Ok(Command::Help);
            }
            _ => {}
        }
        match kind {
            Kind::Health => {
                let account = join(&tokens);
                if account.is_empty() {
                    return Err(CommandError::MissingAccount {
                        usage: HEALTH_USAGE,
                    });
                }
                Ok(Command::Health { account })
            }
            Kind::Sync => parse_sync(&tokens),
            Kind::Update => parse_update(tokens),
        }
    }
}

enum Kind {
    Update,
    Health,
    Sync,
}

fn parse_sync(tokens: &[Token]) -> Result<Command, CommandError> {
    // The scope is one to three words at the end (`APIs + Metrics`,
    // `"Full Sync"`); the longest that names a scope is taken.
    let mut scope = SyncScope::default();
    let mut account_words = tokens.len();
    for words in (1..=3.min(tokens.len())).rev() {
        let tail = &tokens[tokens.len() - words..];
        if let Some(named) = SyncScope::from_name(&join(tail)) {
            scope = named;
            account_words = tokens.len() - words;
            break;
        }
    }
    let account = join(&tokens[..account_words]);
    if account.is_empty() {
        return Err(CommandError::MissingAccount { usage: SYNC_USAGE });
    }
    Ok(Command::Sync { account, scope })
}

fn parse_update(mut tokens: Vec<Token>) -> Result<Command, CommandError> {
    let create_new = tokens.len() > 3
        && tokens
            .last()
            .is_some_and(|t| !t.quoted && t.text.eq_ignore_ascii_case("new"));
    if create_new {
        tokens.pop();
    }
    let value = match tokens.pop() {
        Some(value) if tokens.len() >= 2 => value.text,
        _ => {
            return Err(CommandError::MissingArguments {
                usage: UPDATE_USAGE,
            });
        }
    };
    let args = Update {
        names: tokens,
        value,
        create_new,
    };
    if args.splits().next().is_none() {
        return Err(CommandError::MissingArguments {
            usage: UPDATE_USAGE,
        });
    }
    Ok(Command::Update { args })
}

/// Splits a command's text into words: whitespace separates them, and a
/// quoted name is one word (see the module's documentation).
///
/// ```
/// use csip_slack::command::tokenize;
/// let words: Vec<String> = tokenize("  ‘Nordic Bank’ \"API Uptime\"  99.5 ")?
///     .into_iter()
///     .map(|t| t.text)
///     .collect();
/// assert_eq!(words, ["Nordic Bank", "API Uptime", "99.5"]);
/// # Ok::<(), csip_slack::command::CommandError>(())
/// ```
pub fn tokenize(text: &str) -> Result<Vec<Token>, CommandError> {
    let mut tokens = Vec::new();
    let mut rest = text.trim_start();
    while let Some(first) = rest.chars().next() {
        if let Some(closers) = closing_quotes(first) {
            let inside = &rest[first.len_utf8()..];
            let close = inside.char_indices().find(|&(at, c)| {
                closers.contains(&c)
                    && inside[at + c.len_utf8()..]
                        .chars()
                        .next()
                        .is_none_or(char::is_whitespace)
            });
            let Some((at, close)) = close else {
                return Err(CommandError::UnterminatedQuote {
                    quote: first,
                    close: closers[0],
                    start: inside
                        .chars()
                        .take(30)
                        .collect::<String>()
                        .trim()
                        .to_string(),
                });
            };
            tokens.push(Token {
                text: inside[..at].to_string(),
                quoted: true,
            });
            rest = inside[at + close.len_utf8()..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            tokens.push(Token {
                text: rest[..end].to_string(),
                quoted: false,
            });
            rest = rest[end..].trim_start();
        }
    }
    Ok(tokens)
}

/// The quotes that close one opened by `open`, the usual one first; `None`
/// when `open` opens no quote.
fn closing_quotes(open: char) -> Option<&'static [char]> {
    match open {
        '"' => Some(&['"', '”']),
        '\'' => Some(&['\'', '’']),
        // Some keyboards and clients give “…“ or ”…”.
        '“' | '”' | '„' => Some(&['”', '“', '"']),
        '‘' | '‚' => Some(&['’', '‘', '\'']),
        _ => None,
    }
}

/// The words' texts joined by single spaces.
fn join(tokens: &[Token]) -> String {
    let mut out = String::new();
    for token in tokens {
        if !token.text.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&token.text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, bool)> {
        tokenize(text)
            .expect("tokenizes")
            .into_iter()
            .map(|t| (t.text, t.quoted))
            .collect()
    }

    fn plain(list: &[&str]) -> Vec<(String, bool)> {
        list.iter().map(|w| (w.to_string(), false)).collect()
    }

    fn update(text: &str) -> Update {
        match Command::parse("/mulesoft-update", text) {
            Ok(Command::Update { args }) => args,
            other => panic!("{text:?}: {other:?}"),
        }
    }

    fn splits(text: &str) -> Vec<(String, String, String, bool)> {
        update(text)
            .splits()
            .map(|s| (s.account, s.metric, s.value, s.create_new))
            .collect()
    }

    fn split(
        account: &str,
        metric: &str,
        value: &str,
        new: bool,
    ) -> (String, String, String, bool) {
        (account.into(), metric.into(), value.into(), new)
    }

    #[test]
    fn words_split_at_any_whitespace() {
        assert_eq!(words("Gard AS"), plain(&["Gard", "AS"]));
        assert_eq!(words("  Gard \t  AS\n"), plain(&["Gard", "AS"]));
        // A no-break space, as some clients send between words.
        assert_eq!(words("Gard\u{a0}AS"), plain(&["Gard", "AS"]));
        assert_eq!(words(""), plain(&[]));
        assert_eq!(words(" \t "), plain(&[]));
    }

    #[test]
    fn quoted_names_are_one_word() {
        let quoted = |w: &str| (w.to_string(), true);
        assert_eq!(
            words("\"Gard AS\" Uptime"),
            vec![quoted("Gard AS"), ("Uptime".into(), false)]
        );
        assert_eq!(words("'Gard AS'"), vec![quoted("Gard AS")]);
        assert_eq!(words("“Gard AS”"), vec![quoted("Gard AS")]);
        assert_eq!(words("‘Gard AS’"), vec![quoted("Gard AS")]);
        assert_eq!(words("“Gard AS“"), vec![quoted("Gard AS")]);
        assert_eq!(words("”Gard AS”"), vec![quoted("Gard AS")]);
        assert_eq!(words("\"  spaced  out \""), vec![quoted("  spaced  out ")]);
        assert_eq!(words("\"\" x"), vec![quoted(""), ("x".into(), false)]);
        assert_eq!(words("“Gard AS”“Nordic”"), vec![quoted("Gard AS”“Nordic")]);
    }

    #[test]
    fn apostrophes_inside_words_are_letters() {
        assert_eq!(words("O'Brien Macy’s"), plain(&["O'Brien", "Macy’s"]));
        assert_eq!(
            words("'Macy's Inc' x"),
            vec![("Macy's Inc".into(), true), ("x".into(), false)]
        );
        assert_eq!(words("‘Macy’s Inc’"), vec![("Macy’s Inc".into(), true)]);
        assert_eq!(words("5'"), plain(&["5'"]));
    }

    #[test]
    fn unicode_names_stay_whole() {
        assert_eq!(
            words("Ørsted 東京電力 “Société Générale”"),
            vec![
                ("Ørsted".into(), false),
                ("東京電力".into(), false),
                ("Société Générale".into(), true),
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_says_so() {
        let error = tokenize("“Gard AS Uptime 99").expect_err("unterminated");
        assert_eq!(
            error,
            CommandError::UnterminatedQuote {
                quote: '“',
                close: '”',
                start: "Gard AS Uptime 99".into()
            }
        );
        assert_eq!(
            error.to_string(),
            "the “ before “Gard AS Uptime 99” is never closed: end the name with ” (or leave the quotes out)"
        );
        assert!(matches!(
            tokenize("x \""),
            Err(CommandError::UnterminatedQuote { quote: '"', .. })
        ));
        assert!(matches!(
            tokenize("'Gard AS"),
            Err(CommandError::UnterminatedQuote { quote: '\'', .. })
        ));
        // A closing quote must end a word.
        assert!(tokenize("\"Gard\"AS").is_err());
        assert!(Command::parse("/mulesoft-health", "“Gard AS").is_err());
    }

    #[test]
    fn health_takes_the_whole_text() {
        let health = |text: &str| Command::parse("/mulesoft-health", text);
        assert_eq!(
            health("Gard AS"),
            Ok(Command::Health {
                account: "Gard AS".into()
            })
        );
        assert_eq!(
            health("  Gard    AS "),
            Ok(Command::Health {
                account: "Gard AS".into()
            })
        );
        assert_eq!(
            health("“Gard AS”"),
            Ok(Command::Health {
                account: "Gard AS".into()
            })
        );
        assert_eq!(
            health("ACC-001"),
            Ok(Command::Health {
                account: "ACC-001".into()
            })
        );
        assert_eq!(
            health("Société Générale"),
            Ok(Command::Health {
                account: "Société Générale".into()
            })
        );
        assert_eq!(
            health("\"\""),
            Err(CommandError::MissingAccount {
                usage: HEALTH_USAGE
            })
        );
    }

    #[test]
    fn help_empty_and_unknown_commands_are_help() {
        for (command, text) in [
            ("/mulesoft-health", ""),
            ("/mulesoft-health", "  "),
            ("/mulesoft-health", "help"),
            ("/mulesoft-update", "HELP"),
            ("/mulesoft-sync", " Help "),
            ("/mulesoft-update", ""),
            ("/mulesoft-frobnicate", "Gard AS"),
            ("", ""),
        ] {
            assert_eq!(
                Command::parse(command, text),
                Ok(Command::Help),
                "{command} {text}"
            );
        }
        // A quoted help is an account.
        assert_eq!(
            Command::parse("/mulesoft-health", "\"help\""),
            Ok(Command::Health {
                account: "help".into()
            })
        );
    }

    #[test]
    fn sync_splits_off_a_trailing_scope() {
        let sync = |text: &str| Command::parse("/mulesoft-sync", text);
        let expect = |account: &str, scope| {
            Ok(Command::Sync {
                account: account.into(),
                scope,
            })
        };
        assert_eq!(
            sync("Gard AS"),
            expect("Gard AS", SyncScope::ApisAndMetrics)
        );
        assert_eq!(
            sync("Gard AS APIs Only"),
            expect("Gard AS", SyncScope::ApisOnly)
        );
        assert_eq!(
            sync("Gard AS apis only"),
            expect("Gard AS", SyncScope::ApisOnly)
        );
        assert_eq!(
            sync("Gard AS APIs + Metrics"),
            expect("Gard AS", SyncScope::ApisAndMetrics)
        );
        assert_eq!(
            sync("Gard AS apis+metrics"),
            expect("Gard AS", SyncScope::ApisAndMetrics)
        );
        assert_eq!(
            sync("Gard AS FULL SYNC"),
            expect("Gard AS", SyncScope::FullSync)
        );
        assert_eq!(
            sync("“Gard AS” “Full Sync”"),
            expect("Gard AS", SyncScope::FullSync)
        );
        assert_eq!(
            sync("“Gard AS Full Sync”"),
            expect("Gard AS Full Sync", SyncScope::ApisAndMetrics)
        );
        assert_eq!(
            sync("Full Sync"),
            Err(CommandError::MissingAccount { usage: SYNC_USAGE })
        );
        assert_eq!(sync("Sync"), expect("Sync", SyncScope::ApisAndMetrics));
    }

    #[test]
    fn sync_scope_names_round_trip() {
        for scope in [
            SyncScope::ApisOnly,
            SyncScope::ApisAndMetrics,
            SyncScope::FullSync,
        ] {
            assert_eq!(SyncScope::from_name(scope.name()), Some(scope));
        }
        assert_eq!(SyncScope::from_name("everything"), None);
    }

    #[test]
    fn update_splits_every_way_shortest_account_first() {
        assert_eq!(
            splits("Gard AS API Uptime 99.5"),
            vec![
                split("Gard", "AS API Uptime", "99.5", false),
                split("Gard AS", "API Uptime", "99.5", false),
                split("Gard AS API", "Uptime", "99.5", false),
            ]
        );
        assert_eq!(
            splits("Gard Uptime 99.5"),
            vec![split("Gard", "Uptime", "99.5", false)]
        );
    }

    #[test]
    fn update_quoted_names_are_never_split() {
        assert_eq!(
            splits("“Gard AS” “API Uptime” 99.5"),
            vec![split("Gard AS", "API Uptime", "99.5", false)]
        );
        assert_eq!(
            splits("'Gard AS' API Uptime 99.5"),
            vec![
                split("Gard AS", "API Uptime", "99.5", false),
                split("Gard AS API", "Uptime", "99.5", false),
            ]
        );
        assert_eq!(
            splits("Gard AS \"99.5 %\""),
            vec![split("Gard", "AS", "99.5 %", false)]
        );
    }

    #[test]
    fn update_new_is_a_trailing_unquoted_flag() {
        assert_eq!(
            splits("Gard AS Latency 120 new"),
            vec![
                split("Gard", "AS Latency", "120", true),
                split("Gard AS", "Latency", "120", true),
            ]
        );
        assert_eq!(
            splits("Gard Latency 120 NEW"),
            vec![split("Gard", "Latency", "120", true)]
        );
        // A quoted new is the value.
        assert_eq!(
            splits("Gard Status \"new\""),
            vec![split("Gard", "Status", "new", false)]
        );
        assert_eq!(
            splits("Gard AS Status “new”"),
            vec![
                split("Gard", "AS Status", "new", false),
                split("Gard AS", "Status", "new", false),
            ]
        );
        // Three words: `new` is the value, not the flag.
        assert_eq!(
            splits("Gard Status new"),
            vec![split("Gard", "Status", "new", false)]
        );
        // `new` elsewhere is a word of a name.
        assert_eq!(
            splits("New Co Uptime 99"),
            vec![
                split("New", "Co Uptime", "99", false),
                split("New Co", "Uptime", "99", false),
            ]
        );
    }

    #[test]
    fn update_needs_an_account_a_metric_and_a_value() {
        for text in [
            "Gard",
            "Gard 99.5",
            "Gard new",
            "\"\" Uptime 99",
            "Gard \"\" 99",
        ] {
            assert_eq!(
                Command::parse("/mulesoft-update", text),
                Err(CommandError::MissingArguments {
                    usage: UPDATE_USAGE
                }),
                "{text}"
            );
        }
    }

    #[test]
    fn update_with_unicode_and_extra_spaces() {
        assert_eq!(
            splits("  Société   Générale  “Disponibilité API”   99,5 "),
            vec![
                split("Société", "Générale Disponibilité API", "99,5", false),
                split("Société Générale", "Disponibilité API", "99,5", false),
            ]
        );
    }
}
