//! E-mail over SMTP (lettre), for the outbox's `email` transport
//! ([`crate::keep::EMAIL`]): a message the outbox holds names the files it
//! attaches by id; [`Mailer::send`] reads them from the file area and hands
//! the message to the SMTP server of the `[email]` section of `csip.toml`,
//! with the credentials `CSIP_SMTP_USERNAME` / `CSIP_SMTP_PASSWORD` (the
//! environment or the secrets file; never logged).
//!
//! ```toml
//! [email]
//! host = "smtp.example.com"   # or CSIP_SMTP_HOST
//! port = 587                  # or CSIP_SMTP_PORT
//! tls = "starttls"            # "starttls" (default), "tls" or "none" (a local relay)
//! from = "CSIP Reports <csip@example.com>"
//! timeout_seconds = 20
//! ```

use csip_store::{Files, Outcome};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::Value as Json;
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// Plain, upgraded with STARTTLS (required), the submission port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: a relay on the same machine or a test server only.
    None,
}

/// The `[email]` section of `csip.toml`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The SMTP server; e-mail is off without one.
    pub host: Option<String>,
    /// Its port.
    pub port: u16,
    /// How the connection is secured.
    pub tls: Tls,
    /// The sender (`Name <address>` or an address); e-mail is off without one.
    pub from: Option<String>,
    /// How long one delivery may take.
    pub timeout_seconds: u64,
}

impl Default for MailSettings {
    fn default() -> MailSettings {
        MailSettings {
            host: None,
            port: 587,
            tls: Tls::Starttls,
            from: None,
            timeout_seconds: 20,
        }
    }
}

#[derive(serde::Deserialize)]
struct Doc {
    #[serde(default)]
    email: MailSettings,
}

/// The mail settings: `[email]` of the configuration, the host and port
/// from `CSIP_SMTP_HOST` / `CSIP_SMTP_PORT` when `env` has them.
///
/// # Errors
///
/// The section does not fit (with its line and column), or the port in the
/// environment is not a number.
pub fn settings(
    config: &csip_store::Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<MailSettings, String> {
    let mut settings = config.section::<Doc>().map_err(|e| e.to_string())?.email;
    if let Some(host) = env("CSIP_SMTP_HOST").filter(|h| !h.trim().is_empty()) {
        settings.host = Some(host.trim().to_string());
    }
    if let Some(port) = env("CSIP_SMTP_PORT").filter(|p| !p.trim().is_empty()) {
        settings.port = port
            .trim()
            .parse()
            .map_err(|_| format!("CSIP_SMTP_PORT is `{port}`, not a port number"))?;
    }
    Ok(settings)
}

/// Sends the outbox's e-mails.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// A mailer for `settings`, with credentials from `secrets` when both
    /// `CSIP_SMTP_USERNAME` and `CSIP_SMTP_PASSWORD` are there; `None` when
    /// no host or no sender is configured (e-mails then wait in the outbox).
    ///
    /// # Errors
    ///
    /// A sender that is not an address, or a host the TLS setup refuses.
    pub fn new(
        settings: &MailSettings,
        secrets: &csip_store::Secrets,
    ) -> Result<Option<Mailer>, String> {
        let (Some(host), Some(from)) = (&settings.host, &settings.from) else {
            return Ok(None);
        };
        let from: Mailbox = from
            .parse()
            .map_err(|e| format!("[email] from = `{from}` is not an address: {e}"))?;
        let builder = match settings.tls {
            Tls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host),
            Tls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host),
            Tls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                host,
            )),
        }
        .map_err(|e| format!("the SMTP server `{host}` cannot be used: {e}"))?;
        let mut builder = builder
            .port(settings.port)
            .timeout(Some(Duration::from_secs(settings.timeout_seconds.max(1))));
        if let (Some(user), Some(password)) = (
            secrets.get("CSIP_SMTP_USERNAME"),
            secrets.get("CSIP_SMTP_PASSWORD"),
        ) {
            builder = builder.credentials(Credentials::new(
                user.expose().to_string(),
                password.expose().to_string(),
            ));
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }

    /// Sends the e-mail an outbox message describes (its `to`, `subject`,
    /// `body`, and `attachments` by file id, read from `files`): delivered,
    /// retried (the server or the network failed for now), or failed (a
    /// payload that cannot be sent, a file that is gone, an address the
    /// server refuses for good).
    pub async fn send(&self, payload: &Json, files: &Files) -> Outcome {
        let message = match self.message(payload, files) {
            Ok(m) => m,
            Err(error) => return Outcome::Failed { error },
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Delivered,
            Err(e) if e.is_permanent() => Outcome::Failed {
                error: format!("the SMTP server refused the message: {e}"),
            },
            Err(e) => Outcome::Retry {
                after: None,
                error: format!("the SMTP server could not take the message now: {e}"),
            },
        }
    }

    fn message(&self, payload: &Json, files: &Files) -> Result<Message, String> {
        let text = |k: &str| payload[k].as_str().unwrap_or_default().to_string();
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(text("subject"));
        let to = payload["to"].as_array().cloned().unwrap_or_default();
        if to.is_empty() {
            return Err("the message has no recipient".into());
        }
        for address in to {
            let address = address.as_str().unwrap_or_default();
            builder = builder.to(address
                .parse()
                .map_err(|e| format!("`{address}` is not an address: {e}"))?);
        }
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(text("body")));
        for a in payload["attachments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = a["file"].as_str().unwrap_or_default();
            let (info, bytes) = files
                .get(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("the attached file {id} is not in the file area"))?;
            let media = ContentType::parse(&info.media_type).unwrap_or(
                ContentType::parse("application/octet-stream").map_err(|e| e.to_string())?,
            );
            parts = parts.singlepart(Attachment::new(info.name).body(bytes, media));
        }
        builder
            .multipart(parts)
            .map_err(|e| format!("the message cannot be built: {e}"))
    }
}
