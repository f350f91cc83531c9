//! The outbox's dispatcher (`docs/outbox.md`): the messages that are due,
//! each handed to its transport (Slack's `chat.postMessage`, at most one
//! per channel per `channel_interval`; e-mail over SMTP, with the files
//! it attaches read from the file area) and settled — delivered, retried,
//! failed. `csip serve` runs it as a task; `csip outbox send` once.

use csip_slack::{Delivery, WebApi};
use csip_store::{Outbox, Outcome, Settled};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one pass delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Messages the transport took.
    pub sent: usize,
    /// Messages to be tried again later.
    pub retrying: usize,
    /// Messages given up.
    pub failed: usize,
    /// Messages of a transport this dispatcher does not speak, left alone.
    pub skipped: usize,
}

/// Delivers messages to Slack and e-mail from a workbook file's outbox.
#[derive(Debug)]
pub struct Dispatcher {
    outbox: Arc<Outbox>,
    slack: Option<WebApi>,
    mail: Option<csip_reports::mail::Mailer>,
    files: Arc<csip_store::Files>,
    settings: csip_store::Config,
    /// When each channel was last posted to.
    last_post: HashMap<String, Instant>,
}

impl Dispatcher {
    /// A dispatcher of the outbox of the file `path`, with the
    /// integrations' settings; Slack messages need `CSIP_SLACK_BOT_TOKEN`,
    /// e-mails an `[email]` host and sender (without them they stay in the
    /// outbox).
    ///
    /// # Errors
    ///
    /// The file cannot be opened, or the HTTP client cannot be built.
    pub fn new(path: &std::path::Path, settings: csip_store::Config) -> Result<Dispatcher, String> {
        let outbox = Outbox::open(path).map_err(|e| e.to_string())?;
        let slack = match settings.secrets.get("CSIP_SLACK_BOT_TOKEN") {
            Some(token) => Some(
                WebApi::new(
                    settings.slack.api_url.clone(),
                    token.clone(),
                    Duration::from_secs(10),
                )
                .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        let mail_settings = csip_reports::mail::settings(&settings, &|n| std::env::var(n).ok())?;
        let mail = csip_reports::mail::Mailer::new(&mail_settings, &settings.secrets)?;
        Ok(Dispatcher {
            outbox: Arc::new(outbox),
            slack,
            mail,
            files: Arc::new(csip_store::Files::open(path).map_err(|e| e.to_string())?),
            settings,
            last_post: HashMap::new(),
        })
    }

    /// Whether it can deliver Slack messages (it has a bot token).
    pub fn speaks_slack(&self) -> bool {
        self.slack.is_some()
    }

    /// Whether it can deliver e-mails (an SMTP server and a sender are configured).
    pub fn speaks_email(&self) -> bool {
        self.mail.is_some()
    }

    /// Delivers every message due now, at most `limit`, oldest first.
    ///
    /// # Errors
    ///
    /// The outbox cannot be read or written.
    pub async fn deliver_due(&mut self, limit: usize) -> Result<Delivered, String> {
        let outbox = self.outbox.clone();
        let now = crate::now();
        let due = tokio::task::spawn_blocking(move || outbox.due(now, limit))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let mut done = Delivered::default();
        for message in due {
            let outcome = match (message.transport.as_str(), &self.slack, &self.mail) {
                ("slack", Some(slack), _) => {
                    // Slack allows about one message a second per channel.
                    let interval = self.settings.slack.channel_interval;
                    if let Some(last) = self.last_post.get(&message.address) {
                        let wait = interval.saturating_sub(last.elapsed());
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    let delivery = slack.post_body(&message.payload).await;
                    self.last_post
                        .insert(message.address.clone(), Instant::now());
                    match delivery {
                        Delivery::Sent => Outcome::Delivered,
                        Delivery::Retry { after, reason } => Outcome::Retry {
                            after,
                            error: reason,
                        },
                        Delivery::Failed { code } => Outcome::Failed { error: code },
                    }
                }
                (csip_reports::keep::EMAIL, _, Some(mail)) => {
                    mail.send(&message.payload, &self.files).await
                }
                _ => {
                    done.skipped += 1;
                    continue;
                }
            };
            let (outbox, backoff) = (self.outbox.clone(), self.settings.outbox.backoff);
            let (id, now) = (message.id, crate::now());
            let settled = tokio::task::spawn_blocking(move || {
                outbox.settle(id, &outcome, now, &backoff, jitter())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            match settled {
                Settled::Delivered => done.sent += 1,
                Settled::RetryAt(at) => {
                    tracing::warn!(target: "csip::outbox", key = %message.key, %at, "a message will be tried again");
                    done.retrying += 1;
                }
                Settled::Failed(reason) => {
                    tracing::warn!(target: "csip::outbox", key = %message.key, %reason, "a message was given up");
                    done.failed += 1;
                }
            }
        }
        Ok(done)
    }

    /// Delivers due messages every `poll` until `stop` is set.
    pub async fn run(mut self, stop: csip_engine::CancelFlag) {
        let poll = self.settings.outbox.poll;
        while !stop.is_cancelled() {
            if let Err(e) = self.deliver_due(100).await {
                tracing::warn!(target: "csip::outbox", error = %e, "the outbox could not be read");
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// A number in `[0, 1]` to spread retries (no randomness is needed beyond
/// that: the clock's nanoseconds).
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}
