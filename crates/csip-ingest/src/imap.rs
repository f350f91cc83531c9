//! The metrics report from an IMAP mailbox (DESIGN §5 "Ingest").
//!
//! [`process`] connects over TLS (`imaps://`, or `imap://` upgraded with
//! STARTTLS: a server that does not offer it is refused before the
//! password is sent), logs in, selects the mailbox, and reads each unseen
//! message (`UID SEARCH UNSEEN`, then `UID FETCH uid BODY.PEEK[]`, which
//! does not mark it seen). Each goes through [`csv_attachment`]:
//!
//! - a message that is not ours ([`MailError::NotMatching`]) stays unseen
//!   and is not handed over (so it is fetched again on each run: give the
//!   reports a mailbox of their own);
//! - any other result, a report or a message with no usable CSV, goes to
//!   the caller's `handle`; once it answers, the message is marked `\Seen`;
//! - when `handle` cannot record anything ([`HandleError`]), processing
//!   stops and the message stays unseen, to be read on the next run.
//!
//! As with `maildir.rs`, exactly once is the caller's: it records
//! [`Found::key`] with the data it commits, so a message whose `\Seen` was
//! lost (a kill between the commit and the flag) is recognised when it is
//! handed over again.
//!
//! The client is small and written here: just the commands above, over
//! `rustls` (the aws-lc-rs provider reqwest uses) and a `TcpStream` with a
//! 30-second timeout. The `imap` crate's rustls mode trusts only the
//! system's roots, with no way to add `ca_file`, and its STARTTLS cannot be
//! driven from outside; `async-imap` would bring an async runtime into a
//! blocking loop. Server responses are read whole, literals (`{n}`)
//! included, as RFC 3501 frames them. The password is a
//! [`csip_store::Secret`]: it is sent in `LOGIN` and appears in no error,
//! log or `Debug` (a server's reply that echoes it is masked).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::Deserialize;

use crate::mail::{Found, HandleError, Handled, MailError, MailRules, csv_attachment};

/// How long a connection, a read or a write may wait.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest message (or other literal) read from the server.
pub const MAX_LITERAL: usize = 64 * 1024 * 1024;

/// The longest response line outside literals.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// The `[ingest.imap]` section of the configuration. The password is not
/// here: it comes from the environment (`CSIP_IMAP_PASSWORD`).
///
/// ```
/// use csip_ingest::imap::ImapConfig;
/// let config: ImapConfig = toml::from_str(
///     r#"
///     url = "imaps://imap.company.com:993/Reports"
///     user = "metrics@company.com"
///     "#,
/// )
/// .unwrap();
/// assert_eq!(config.ca_file, None);
/// ```
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// `imaps://host:993/INBOX` (TLS from the start) or
    /// `imap://host:143/INBOX` (STARTTLS, required); the port defaults to
    /// 993 or 143 and the mailbox to `INBOX`.
    pub url: String,
    /// The user to log in as.
    pub user: String,
    /// A PEM file of certificates to trust besides the system's roots, for
    /// a private or test server.
    pub ca_file: Option<PathBuf>,
}

/// The caller's part in [`process`]: given the message's UID and what
/// [`csv_attachment`] found in it, commit the report or record the failure.
pub type Handler<'a> =
    dyn FnMut(&str, Result<Found, MailError>) -> Result<Handled, HandleError> + 'a;

/// What one [`process`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImapSummary {
    /// Reports the caller committed, now `\Seen`.
    pub committed: usize,
    /// Messages rejected, by UID, with why: reports the caller rejected
    /// and messages with no usable CSV; now `\Seen`.
    pub rejected: Vec<(String, String)>,
    /// Messages that are not ours, left unseen.
    pub skipped: usize,
}

/// Why a [`process`] run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The url cannot be used.
    #[error(
        "the IMAP url {url:?} is not usable ({reason}); write it as imaps://host:993/INBOX or imap://host:143/INBOX"
    )]
    Url {
        /// The url.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `ca_file` cannot be read.
    #[error(
        "could not read the CA file {}: {reason}; give a PEM file of the certificates to trust",
        path.display()
    )]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No certificate to trust.
    #[error(
        "no trusted root certificates were found; install the system's CA certificates (ca-certificates) or set ca_file"
    )]
    NoRoots,
    /// The server could not be reached.
    #[error(
        "could not connect to the IMAP server {server}: {source}; check the url, the network and that the server is running"
    )]
    Connect {
        /// `host:port`.
        server: String,
        /// What the system said.
        source: io::Error,
    },
    /// The TLS handshake failed.
    #[error(
        "the TLS handshake with the IMAP server {server} failed ({reason}); check that its certificate is valid for that name, or set ca_file to the CA that signed it"
    )]
    Tls {
        /// `host:port`.
        server: String,
        /// What rustls said.
        reason: String,
    },
    /// An `imap://` server does not offer STARTTLS.
    #[error(
        "the IMAP server {server} does not offer STARTTLS, so the password was not sent; use imaps:// or enable STARTTLS on the server"
    )]
    NoStartTls {
        /// `host:port`.
        server: String,
    },
    /// The server refused the login.
    #[error(
        "the IMAP server {server} refused the login of {user:?} ({said}); check the user and CSIP_IMAP_PASSWORD"
    )]
    Login {
        /// `host:port`.
        server: String,
        /// The user.
        user: String,
        /// What the server said.
        said: String,
    },
    /// The server refused a command.
    #[error(
        "the IMAP server {server} refused {command} ({said}); check the mailbox in the url and the account's rights"
    )]
    Refused {
        /// `host:port`.
        server: String,
        /// The command, without its arguments.
        command: String,
        /// What the server said.
        said: String,
    },
    /// The connection failed or timed out.
    #[error(
        "the connection to the IMAP server {server} failed: {source}; run again (a message is marked seen only once handled)"
    )]
    Io {
        /// `host:port`.
        server: String,
        /// What the system said.
        source: io::Error,
    },
    /// The server answered something that is not IMAP as read here.
    #[error(
        "the IMAP server {server} sent what csip could not read ({reason}); check that the url points at an IMAP server"
    )]
    Protocol {
        /// `host:port`.
        server: String,
        /// What was wrong.
        reason: String,
    },
    /// The caller could not record a message's outcome; it stays unseen.
    #[error("stopped at the message UID {uid}, left unseen to be read again: {message}")]
    Handle {
        /// The message's UID.
        uid: String,
        /// What the caller said.
        message: String,
    },
}

/// Reads the unseen messages of the mailbox, hands each report to
/// `handle`, and marks what was handled `\Seen` (see the module
/// documentation).
pub fn process(
    config: &ImapConfig,
    password: &csip_store::Secret,
    rules: &MailRules,
    handle: &mut Handler<'_>,
) -> Result<ImapSummary, ImapError> {
    let url = ImapUrl::parse(&config.url)?;
    let tls = tls_config(config.ca_file.as_ref(), &url.server())?;
    let mut session = connect(&url, tls)?;
    session.secret = Some(password.expose().to_string()).filter(|p| !p.is_empty());
    session.login(&config.user, password.expose())?;
    let outcome = session.read_mailbox(&url.mailbox, rules, handle);
    // Best effort: the work is done or the error is known either way.
    let _ = session.run("LOGOUT", &[]);
    outcome
}

/// An `imap://` or `imaps://` url, read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImapUrl {
    /// TLS from the start (`imaps`), else STARTTLS.
    implicit_tls: bool,
    /// The host, without brackets for IPv6.
    host: String,
    /// The port.
    port: u16,
    /// The mailbox, percent-decoded.
    mailbox: String,
}

impl ImapUrl {
    fn parse(url: &str) -> Result<ImapUrl, ImapError> {
        let bad = |reason: &str| ImapError::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("it has no scheme"))?;
        let (implicit_tls, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "imaps" => (true, 993),
            "imap" => (false, 143),
            _ => return Err(bad("the scheme is neither imaps nor imap")),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.contains('@') {
            return Err(bad("it names a user; set `user` instead"));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| bad("an IPv6 address lacks its closing ]"))?;
            let port = match after.strip_prefix(':') {
                Some(port) => Some(port),
                None if after.is_empty() => None,
                None => return Err(bad("junk after the IPv6 address")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("it has no host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
            None => default_port,
        };
        let path = path.split(['?', ';']).next().unwrap_or("");
        let mailbox = percent_decode(path)
            .ok_or_else(|| bad("the mailbox is not valid percent-encoded UTF-8"))?;
        let mailbox = if mailbox.is_empty() {
            "INBOX".to_string()
        } else {
            mailbox
        };
        if !mailbox.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(bad(
                "the mailbox name has characters other than printable ASCII, which this client does not encode",
            ));
        }
        Ok(ImapUrl {
            implicit_tls,
            host: host.to_string(),
            port,
            mailbox,
        })
    }

    fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// `%XX` decoded; `None` when an escape is bad or the result not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// The TLS client configuration: the system's roots and `ca_file`'s.
fn tls_config(
    ca_file: Option<&PathBuf>,
    server: &str,
) -> Result<Arc<rustls::ClientConfig>, ImapError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let ca_error = |reason: String| ImapError::CaFile {
            path: path.clone(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_error(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| ca_error(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_error("it holds no PEM certificate".to_string()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
        }
    }
    if roots.is_empty() {
        return Err(ImapError::NoRoots);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Tls {
            server: server.to_string(),
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects, reads the greeting, and secures the connection: TLS from the
/// start, or STARTTLS when the server offers it.
fn connect(url: &ImapUrl, tls: Arc<rustls::ClientConfig>) -> Result<Session, ImapError> {
    let server = url.server();
    let tcp = tcp_connect(&url.host, url.port).map_err(|source| ImapError::Connect {
        server: server.clone(),
        source,
    })?;
    let name = ServerName::try_from(url.host.clone()).map_err(|e| ImapError::Url {
        url: server.clone(),
        reason: format!("the host is not a valid name: {e}"),
    })?;
    let mut session = Session {
        stream: Stream::Plain(tcp),
        buffer: Buffer::default(),
        server: server.clone(),
        next_tag: 1,
        secret: None,
    };
    if url.implicit_tls {
        session.start_tls(tls, name)?;
        session.greeting()?;
        return Ok(session);
    }
    session.greeting()?;
    let (untagged, _) = session.run("CAPABILITY", &[])?;
    let offers_starttls = untagged.iter().any(|response| {
        let words = response.first_line_words();
        words.first().is_some_and(|w| w == "*")
            && words
                .get(1)
                .is_some_and(|w| w.eq_ignore_ascii_case("CAPABILITY"))
            && words
                .iter()
                .skip(2)
                .any(|w| w.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offers_starttls {
        return Err(ImapError::NoStartTls { server });
    }
    session.run("STARTTLS", &[])?;
    // Anything the server sent after its OK arrived in clear, and could
    // have been injected: refuse it rather than read it as protected.
    if !session.buffer.is_empty() {
        return Err(ImapError::Protocol {
            server,
            reason: "it sent data after agreeing to STARTTLS".to_string(),
        });
    }
    session.start_tls(tls, name)?;
    Ok(session)
}

/// A TCP connection to the first address of `host` that answers.
fn tcp_connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(tcp) => {
                tcp.set_read_timeout(Some(TIMEOUT))?;
                tcp.set_write_timeout(Some(TIMEOUT))?;
                return Ok(tcp);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The connection, before or after TLS.
enum Stream {
    /// Before STARTTLS (or while TLS is being set up).
    Plain(TcpStream),
    /// Protected.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    /// Between the two.
    Closed,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
            Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// An IMAP session: the stream, what was read ahead of the responses
/// taken, and the next command tag.
struct Session {
    stream: Stream,
    buffer: Buffer,
    /// `host:port`, for messages.
    server: String,
    next_tag: u32,
    /// The password, masked in whatever the server says.
    secret: Option<String>,
}

/// One argument of a command.
enum Arg<'a> {
    /// Written as it is (a number, a UID set, a flag list).
    Raw(&'a str),
    /// An IMAP string: quoted when it can be, else a literal.
    Text(&'a str),
}

impl Session {
    /// TLS over the plain stream; the handshake happens here.
    fn start_tls(
        &mut self,
        tls: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
    ) -> Result<(), ImapError> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(self.protocol("TLS was started twice"));
        };
        let connection = rustls::ClientConnection::new(tls, name).map_err(|e| ImapError::Tls {
            server: self.server.clone(),
            reason: e.to_string(),
        })?;
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| ImapError::Tls {
                    server: self.server.clone(),
                    reason: e.to_string(),
                })?;
        }
        self.stream = Stream::Tls(Box::new(stream));
        Ok(())
    }

    /// Reads the greeting: `* OK` goes on, anything else stops.
    fn greeting(&mut self) -> Result<(), ImapError> {
        let greeting = self.read_response()?;
        let words = greeting.first_line_words();
        match words.get(1).map(|w| w.to_ascii_uppercase()).as_deref() {
            Some("OK") if words.first().is_some_and(|w| w == "*") => Ok(()),
            Some("PREAUTH") => Err(self.protocol(
                "it greeted with PREAUTH (already logged in), which this client does not accept",
            )),
            _ => Err(self.protocol(&format!("it greeted with {:?}", self.said(&greeting)))),
        }
    }

    fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        match self.run("LOGIN", &[Arg::Text(user), Arg::Text(password)]) {
            Err(ImapError::Refused { said, .. }) => Err(ImapError::Login {
                server: self.server.clone(),
                user: user.to_string(),
                said,
            }),
            other => other.map(drop),
        }
    }

    /// SELECT, then each unseen message.
    fn read_mailbox(
        &mut self,
        mailbox: &str,
        rules: &MailRules,
        handle: &mut Handler<'_>,
    ) -> Result<ImapSummary, ImapError> {
        self.run("SELECT", &[Arg::Text(mailbox)])?;
        let (untagged, _) = self.run("UID SEARCH", &[Arg::Raw("UNSEEN")])?;
        let mut uids: Vec<u32> = untagged
            .iter()
            .flat_map(|response| {
                let words = response.first_line_words();
                let is_search = words.first().is_some_and(|w| w == "*")
                    && words
                        .get(1)
                        .is_some_and(|w| w.eq_ignore_ascii_case("SEARCH"));
                let numbers: Vec<u32> = if is_search {
                    words
                        .iter()
                        .skip(2)
                        .filter_map(|w| w.parse().ok())
                        .collect()
                } else {
                    Vec::new()
                };
                numbers
            })
            .collect();
        uids.sort_unstable();
        uids.dedup();

        let mut summary = ImapSummary::default();
        for uid in uids {
            let uid_text = uid.to_string();
            let Some(raw) = self.fetch(&uid_text)? else {
                // Expunged since the search.
                continue;
            };
            let found = csv_attachment(&raw, rules);
            let unusable = match &found {
                Err(MailError::NotMatching { .. }) => {
                    summary.skipped += 1;
                    continue;
                }
                Err(e) => Some(e.to_string()),
                Ok(_) => None,
            };
            let handled =
                handle(&uid_text, found).map_err(|HandleError(message)| ImapError::Handle {
                    uid: uid_text.clone(),
                    message,
                })?;
            self.run(
                "UID STORE",
                &[
                    Arg::Raw(&uid_text),
                    Arg::Raw("+FLAGS.SILENT"),
                    Arg::Raw("(\\Seen)"),
                ],
            )?;
            match (unusable, handled) {
                (Some(reason), _) => summary.rejected.push((uid_text, reason)),
                (None, Handled::Committed) => summary.committed += 1,
                (None, Handled::Rejected { reason }) => summary.rejected.push((uid_text, reason)),
            }
        }
        Ok(summary)
    }

    /// The whole message `uid`, without marking it seen; `None` when the
    /// server sends no body for it.
    fn fetch(&mut self, uid: &str) -> Result<Option<Vec<u8>>, ImapError> {
        let (untagged, _) = self.run("UID FETCH", &[Arg::Raw(uid), Arg::Raw("BODY.PEEK[]")])?;
        for response in untagged {
            let fetched = parse_fetch(&response).map_err(|reason| self.protocol(&reason))?;
            if let Some(Fetched {
                uid: Some(fetched_uid),
                body: Some(body),
            }) = fetched
                && fetched_uid == uid
            {
                return Ok(Some(body));
            }
        }
        Ok(None)
    }

    /// Sends a command and reads up to its tagged answer: the untagged
    /// responses, and the tagged one when it is OK.
    fn run(
        &mut self,
        command: &str,
        args: &[Arg<'_>],
    ) -> Result<(Vec<Response>, Response), ImapError> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        let mut untagged = Vec::new();
        // The command in pieces; a literal waits for the server's `+`.
        let mut line = format!("{tag} {command}").into_bytes();
        for arg in args {
            line.push(b' ');
            match arg {
                Arg::Raw(raw) => line.extend_from_slice(raw.as_bytes()),
                Arg::Text(text) if is_quotable(text) => {
                    line.push(b'"');
                    for b in text.bytes() {
                        if b == b'"' || b == b'\\' {
                            line.push(b'\\');
                        }
                        line.push(b);
                    }
                    line.push(b'"');
                }
                Arg::Text(text) => {
                    line.extend_from_slice(format!("{{{}}}\r\n", text.len()).as_bytes());
                    self.write(&line)?;
                    line.clear();
                    loop {
                        let response = self.read_response()?;
                        if response.is_continuation() {
                            break;
                        }
                        if response.tag() == Some(tag.as_str()) {
                            return Err(self.refused(command, &response));
                        }
                        untagged.push(response);
                    }
                    line.extend_from_slice(text.as_bytes());
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        self.write(&line)?;
        loop {
            let response = self.read_response()?;
            if response.tag() == Some(tag.as_str()) {
                let words = response.first_line_words();
                return match words.get(1).map(|w| w.to_ascii_uppercase()).as_deref() {
                    Some("OK") => Ok((untagged, response)),
                    _ => Err(self.refused(command, &response)),
                };
            }
            let words = response.first_line_words();
            let is_bye = words.first().is_some_and(|w| w == "*")
                && words.get(1).is_some_and(|w| w.eq_ignore_ascii_case("BYE"));
            if is_bye && command != "LOGOUT" {
                return Err(self.protocol(&format!(
                    "it closed the session: {:?}",
                    self.said(&response)
                )));
            }
            untagged.push(response);
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ImapError> {
        let written = self
            .stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush());
        written.map_err(|source| ImapError::Io {
            server: self.server.clone(),
            source,
        })
    }

    fn read_response(&mut self) -> Result<Response, ImapError> {
        read_response(&mut self.stream, &mut self.buffer).map_err(|e| match e {
            ReadError::Io(source) => ImapError::Io {
                server: self.server.clone(),
                source,
            },
            ReadError::Protocol(reason) => self.protocol(&reason),
        })
    }

    fn protocol(&self, reason: &str) -> ImapError {
        ImapError::Protocol {
            server: self.server.clone(),
            reason: self.mask(reason),
        }
    }

    fn refused(&self, command: &str, response: &Response) -> ImapError {
        ImapError::Refused {
            server: self.server.clone(),
            command: command.to_string(),
            said: self.said(response),
        }
    }

    /// What the server said in a response's first line, printable, short,
    /// and with the password masked.
    fn said(&self, response: &Response) -> String {
        let line = String::from_utf8_lossy(response.first_line());
        // Without the tag (or `*`); masked before it is cut short, so that
        // no part of the password survives the cut.
        let text = line.split_once(' ').map_or(&*line, |(_, text)| text);
        self.mask(text)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(300)
            .collect()
    }

    fn mask(&self, text: &str) -> String {
        match &self.secret {
            Some(secret) => text.replace(secret.as_str(), "***"),
            None => text.to_string(),
        }
    }
}

/// Whether `text` can be sent as a quoted string (printable ASCII).
fn is_quotable(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// One server response: its lines, each followed by the literal it
/// announces, if any.
#[derive(Debug, Default, PartialEq, Eq)]
struct Response {
    pieces: Vec<Piece>,
}

/// A line (without its CRLF, and without the `{n}` that announced the
/// literal after it) or a literal.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Line(Vec<u8>),
    Literal(Vec<u8>),
}

impl Response {
    fn first_line(&self) -> &[u8] {
        match self.pieces.first() {
            Some(Piece::Line(line)) => line,
            _ => b"",
        }
    }

    /// The first line's space-separated words (enough for tags, status
    /// words, CAPABILITY and SEARCH).
    fn first_line_words(&self) -> Vec<String> {
        String::from_utf8_lossy(self.first_line())
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }

    fn tag(&self) -> Option<&str> {
        let line = self.first_line();
        let end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        std::str::from_utf8(line.get(..end)?).ok()
    }

    fn is_continuation(&self) -> bool {
        self.first_line().starts_with(b"+")
    }
}

/// Bytes read from the stream and not yet taken.
#[derive(Debug, Default)]
struct Buffer {
    bytes: Vec<u8>,
    start: usize,
}

impl Buffer {
    fn is_empty(&self) -> bool {
        self.start >= self.bytes.len()
    }

    fn unread(&self) -> &[u8] {
        self.bytes.get(self.start..).unwrap_or_default()
    }

    /// Reads more from `stream`; an error at the end of the stream.
    fn fill(&mut self, stream: &mut impl Read) -> Result<(), ReadError> {
        if self.start > 0 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = loop {
            match stream.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e)),
            }
        };
        if n == 0 {
            return Err(ReadError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        self.bytes
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Takes one line, without its CRLF (or bare LF).
    fn line(&mut self, stream: &mut impl Read) -> Result<Vec<u8>, ReadError> {
        let mut searched = 0;
        loop {
            if let Some(at) = self
                .unread()
                .iter()
                .skip(searched)
                .position(|&b| b == b'\n')
            {
                let end = searched + at;
                let mut line = self.unread().get(..end).unwrap_or_default().to_vec();
                self.start += end + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            searched = self.unread().len();
            if searched > MAX_LINE {
                return Err(ReadError::Protocol(format!(
                    "a response line longer than {MAX_LINE} bytes"
                )));
            }
            self.fill(stream)?;
        }
    }

    /// Takes exactly `n` bytes.
    fn exactly(&mut self, stream: &mut impl Read, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.unread().len() < n {
            self.fill(stream)?;
        }
        let bytes = self.unread().get(..n).unwrap_or_default().to_vec();
        self.start += n;
        Ok(bytes)
    }
}

/// Why a response could not be read.
#[derive(Debug)]
enum ReadError {
    Io(io::Error),
    Protocol(String),
}

/// Reads one whole response: a line, and while a line ends with `{n}`, the
/// `n` bytes of the literal and the line that goes on after it.
fn read_response(stream: &mut impl Read, buffer: &mut Buffer) -> Result<Response, ReadError> {
    let mut response = Response::default();
    loop {
        let mut line = buffer.line(stream)?;
        let literal = literal_length(&line);
        if let Some((length, marker_start)) = literal {
            if length > MAX_LITERAL {
                return Err(ReadError::Protocol(format!(
                    "a literal of {length} bytes, more than the {MAX_LITERAL}-byte limit"
                )));
            }
            line.truncate(marker_start);
            response.pieces.push(Piece::Line(line));
            let bytes = buffer.exactly(stream, length)?;
            response.pieces.push(Piece::Literal(bytes));
        } else {
            response.pieces.push(Piece::Line(line));
            return Ok(response);
        }
    }
}

/// The length of the literal a line announces (`... {123}`), and where the
/// `{` is.
fn literal_length(line: &[u8]) -> Option<(usize, usize)> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&b| b == b'{')?;
    let digits = inner.get(open + 1..)?;
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 12 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((length, open))
}

/// A token of a response.
#[derive(Debug, PartialEq, Eq)]
enum Token<'r> {
    /// An atom, a number, `NIL`, or a fetch item name such as `BODY[]`.
    Atom(&'r [u8]),
    /// A quoted string, unescaped.
    Quoted(Vec<u8>),
    /// A literal's bytes.
    Literal(&'r [u8]),
    Open,
    Close,
}

/// The response's tokens.
fn tokens(response: &Response) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    for piece in &response.pieces {
        let line = match piece {
            Piece::Literal(bytes) => {
                out.push(Token::Literal(bytes));
                continue;
            }
            Piece::Line(line) => line.as_slice(),
        };
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            match b {
                b' ' => i += 1,
                b'(' => {
                    out.push(Token::Open);
                    i += 1;
                }
                b')' => {
                    out.push(Token::Close);
                    i += 1;
                }
                b'"' => {
                    let mut text = Vec::new();
                    i += 1;
                    loop {
                        match line.get(i) {
                            None => return Err("a quoted string is not closed".to_string()),
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(b'\\') => {
                                let escaped = line
                                    .get(i + 1)
                                    .ok_or_else(|| "a quoted string ends in \\".to_string())?;
                                text.push(*escaped);
                                i += 2;
                            }
                            Some(&c) => {
                                text.push(c);
                                i += 1;
                            }
                        }
                    }
                    out.push(Token::Quoted(text));
                }
                _ => {
                    let start = i;
                    // An atom; brackets may hold spaces (`BODY[HEADER.FIELDS (A B)]`).
                    let mut depth = 0usize;
                    while let Some(&c) = line.get(i) {
                        match c {
                            b'[' => depth += 1,
                            b']' => depth = depth.saturating_sub(1),
                            b' ' | b'(' | b')' | b'"' if depth == 0 => break,
                            _ => {}
                        }
                        i += 1;
                    }
                    out.push(Token::Atom(line.get(start..i).unwrap_or_default()));
                }
            }
        }
    }
    Ok(out)
}

/// What a `FETCH` response gave.
#[derive(Debug, PartialEq, Eq)]
struct Fetched {
    uid: Option<String>,
    body: Option<Vec<u8>>,
}

/// From an untagged `* n FETCH (...)` response, its UID and `BODY[]`;
/// `None` for any other response.
fn parse_fetch(response: &Response) -> Result<Option<Fetched>, String> {
    let tokens = tokens(response)?;
    let is_fetch = matches!(tokens.as_slice(),
        [Token::Atom(b"*"), Token::Atom(n), Token::Atom(fetch), Token::Open, ..]
            if n.iter().all(u8::is_ascii_digit) && fetch.eq_ignore_ascii_case(b"FETCH"));
    if !is_fetch {
        return Ok(None);
    }
    let mut uid = None;
    let mut body = None;
    let mut rest = tokens.get(4..).unwrap_or_default().iter();
    loop {
        let name = match rest.next() {
            Some(Token::Close) => break,
            Some(Token::Atom(name)) => *name,
            Some(other) => return Err(format!("a FETCH item name was {other:?}")),
            None => return Err("a FETCH response is not closed".to_string()),
        };
        let value = rest.next().ok_or("a FETCH item has no value")?;
        if name.eq_ignore_ascii_case(b"UID") {
            match value {
                Token::Atom(n) if n.iter().all(u8::is_ascii_digit) => {
                    uid = Some(String::from_utf8_lossy(n).into_owned());
                }
                other => return Err(format!("a UID was {other:?}")),
            }
        } else if name.eq_ignore_ascii_case(b"BODY[]") {
            body = match value {
                Token::Literal(bytes) => Some(bytes.to_vec()),
                Token::Quoted(bytes) => Some(bytes.clone()),
                Token::Atom(nil) if nil.eq_ignore_ascii_case(b"NIL") => None,
                other => return Err(format!("a BODY[] was {other:?}")),
            };
        } else if *value == Token::Open {
            // Skip a list, nested lists included.
            let mut depth = 1usize;
            while depth > 0 {
                match rest.next() {
                    Some(Token::Open) => depth += 1,
                    Some(Token::Close) => depth -= 1,
                    Some(_) => {}
                    None => return Err("a FETCH list is not closed".to_string()),
                }
            }
        }
    }
    Ok(Some(Fetched { uid, body }))
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("next_tag", &self.next_tag)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<Response>, ReadError> {
        let mut stream = bytes;
        let mut buffer = Buffer::default();
        let mut out = Vec::new();
        while !(buffer.is_empty() && stream.is_empty()) {
            out.push(read_response(&mut stream, &mut buffer)?);
        }
        Ok(out)
    }

    #[test]
    fn urls_are_read_with_their_defaults() {
        let url = ImapUrl::parse("imaps://imap.company.com/").expect("valid");
        assert_eq!(
            url,
            ImapUrl {
                implicit_tls: true,
                host: "imap.company.com".into(),
                port: 993,
                mailbox: "INBOX".into()
            }
        );
        let url = ImapUrl::parse("IMAP://127.0.0.1:1143/Reports%2FDaily").expect("valid");
        assert!(!url.implicit_tls);
        assert_eq!((url.port, url.mailbox.as_str()), (1143, "Reports/Daily"));
        let url = ImapUrl::parse("imaps://[::1]:9993/INBOX").expect("valid");
        assert_eq!(
            (url.host.as_str(), url.server()),
            ("::1", "[::1]:9993".to_string())
        );
        for bad in [
            "imap.company.com",
            "pop3://host/INBOX",
            "imaps://user@host/INBOX",
            "imaps://host:0/INBOX",
            "imaps://host:99999/INBOX",
            "imaps://:993/INBOX",
            "imaps://host/Bo%C3%AEte",
            "imaps://host/%zz",
        ] {
            let err = ImapUrl::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("imaps://host:993/INBOX"), "{err}");
        }
    }

    #[test]
    fn responses_are_read_with_their_literals() {
        let wire = b"* OK [CAPABILITY IMAP4rev1] ready\r\n\
            * 1 FETCH (UID 7 BODY[] {12}\r\nab\r\n{3}\r\n)\r\n) FLAGS (\\Seen))\r\n\
            a1 OK done\r\n";
        let responses = read_all(wire).expect("readable");
        assert_eq!(responses.len(), 3);
        assert_eq!(
            responses[1].pieces,
            vec![
                Piece::Line(b"* 1 FETCH (UID 7 BODY[] ".to_vec()),
                // A literal's bytes are taken as they are, even when they
                // look like the end of the response or another literal.
                Piece::Literal(b"ab\r\n{3}\r\n)\r\n".to_vec()),
                Piece::Line(b") FLAGS (\\Seen))".to_vec()),
            ]
        );
        assert_eq!(
            parse_fetch(&responses[1]).expect("a fetch"),
            Some(Fetched {
                uid: Some("7".to_string()),
                body: Some(b"ab\r\n{3}\r\n)\r\n".to_vec())
            })
        );
        assert_eq!(responses[2].tag(), Some("a1"));
        assert_eq!(parse_fetch(&responses[2]).expect("not a fetch"), None);
    }

    #[test]
    fn fetch_items_in_any_order_and_quoted_bodies_are_read() {
        let wire = b"* 3 FETCH (FLAGS (\\Recent (x)) BODY[] \"a \\\"b\\\"\" UID 9 MODSEQ (12))\r\n";
        let responses = read_all(wire).expect("readable");
        assert_eq!(
            parse_fetch(&responses[0]).expect("a fetch"),
            Some(Fetched {
                uid: Some("9".to_string()),
                body: Some(b"a \"b\"".to_vec())
            })
        );
        let nil = read_all(b"* 3 FETCH (UID 9 BODY[] NIL)\r\n").expect("readable");
        assert_eq!(
            parse_fetch(&nil[0]).expect("a fetch"),
            Some(Fetched {
                uid: Some("9".to_string()),
                body: None
            })
        );
    }

    #[test]
    fn broken_responses_are_errors_not_panics() {
        // Cut inside a literal.
        assert!(matches!(
            read_all(b"* 1 FETCH (UID 1 BODY[] {10}\r\nabc"),
            Err(ReadError::Io(_))
        ));
        // A literal past the limit is refused before it is read.
        let huge = format!("* 1 FETCH (BODY[] {{{}}}\r\n", MAX_LITERAL + 1);
        assert!(matches!(
            read_all(huge.as_bytes()),
            Err(ReadError::Protocol(_))
        ));
        for bad in [
            &b"* 1 FETCH (UID 1 BODY[]\r\n"[..],
            b"* 1 FETCH (UID x BODY[] NIL)\r\n",
            b"* 1 FETCH (UID 1 BODY[] \"open\r\n",
            b"* 1 FETCH ((\r\n",
        ] {
            let responses = read_all(bad).expect("lines");
            assert!(
                parse_fetch(&responses[0]).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn no_server_bytes_make_the_reader_panic(
            wire in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        ) {
            let mut stream = wire.as_slice();
            let mut buffer = Buffer::default();
            while let Ok(response) = read_response(&mut stream, &mut buffer) {
                let _ = parse_fetch(&response);
                let _ = response.first_line_words();
            }
        }
    }

    #[test]
    fn literal_markers_are_only_read_at_the_end_of_a_line() {
        assert_eq!(
            literal_length(b"* 1 FETCH (BODY[] {1252}"),
            Some((1252, 18))
        );
        assert_eq!(literal_length(b"a1 LOGIN {5+}"), Some((5, 9)));
        assert_eq!(literal_length(b"* OK {12} later"), None);
        assert_eq!(literal_length(b"* OK {}"), None);
        assert_eq!(literal_length(b"* OK {1a}"), None);
        assert_eq!(literal_length(b"* OK {9999999999999}"), None);
    }

    #[test]
    fn the_password_is_masked_in_what_the_server_says() {
        let session = Session {
            stream: Stream::Closed,
            buffer: Buffer::default(),
            server: "imap.company.com:993".to_string(),
            next_tag: 1,
            secret: Some("hunter2".to_string()),
        };
        let response = Response {
            pieces: vec![Piece::Line(b"a2 NO LOGIN user hunter2 failed".to_vec())],
        };
        let err = session.refused("LOGIN", &response);
        let text = format!("{err} {err:?} {session:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}
