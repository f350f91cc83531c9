//! `imap::process` against a real Dovecot that each test starts on free
//! loopback ports (TLS with a certificate made here), and against a fake
//! server for what Dovecot will not do (offer no STARTTLS).
//!
//! Without `/usr/sbin/dovecot` (Debian: `dovecot-imapd`) the Dovecot tests
//! print a SKIP line and pass; CI installs it.
#![cfg(feature = "imap")]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use csip_ingest::imap::{self, ImapConfig, ImapError, ImapSummary};
use csip_ingest::mail::{Found, HandleError, Handled, MailError, MailRules};
use csip_store::Secret;

const DOVECOT: &str = "/usr/sbin/dovecot";
const USER: &str = "metrics";
const PASSWORD: &str = "pw-Zq81-never-shown";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rules of the blueprint's Zapier search.
fn rules() -> MailRules {
    toml::from_str(
        r#"
        from = "tableau-reports@company.com"
        subject = "Anypoint Daily Metrics"
        "#,
    )
    .expect("valid rules")
}

/// A line of /etc/passwd: (name, uid, gid).
fn passwd_entries() -> Vec<(String, u32, u32)> {
    let text = fs::read_to_string("/etc/passwd").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some((
                fields.first()?.to_string(),
                fields.get(2)?.parse().ok()?,
                fields.get(3)?.parse().ok()?,
            ))
        })
        .collect()
}

/// This process's uid, from /proc.
fn current_uid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
        .expect("a Uid line")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A Dovecot of its own, stopped on drop.
struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    /// STARTTLS.
    imap_port: u16,
    /// TLS from the start.
    imaps_port: u16,
    /// The mail user's uid and gid (files delivered are given to them).
    mail_owner: (u32, u32),
}

impl Dovecot {
    /// Starts one, or says why it cannot (the test then skips).
    fn start(test: &str) -> Option<Dovecot> {
        if !Path::new(DOVECOT).exists() {
            println!(
                "SKIP {test}: {DOVECOT} is not installed (apt-get install dovecot-imapd); the IMAP client is tested only against the fake server"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        // Dovecot's processes, as other users, go through this folder.
        fs::set_permissions(root, fs::Permissions::from_mode(0o755)).expect("chmod");
        let users = passwd_entries();
        let uid = current_uid();
        let user = |name: &str| users.iter().find(|(n, _, _)| n == name).cloned();
        // As root, Dovecot wants its own users for its processes and a
        // non-root owner for the mail; otherwise everything runs as us.
        let (internal, login, mail_owner) = if uid == 0 {
            let (Some(internal), Some(login), Some(nobody)) =
                (user("dovecot"), user("dovenull"), user("nobody"))
            else {
                println!(
                    "SKIP {test}: running as root, but the users dovecot, dovenull and nobody are not all in /etc/passwd"
                );
                return None;
            };
            (internal.0, login.0, (nobody.1, nobody.2))
        } else {
            let me = users
                .iter()
                .find(|(_, u, _)| *u == uid)
                .cloned()
                .expect("this user in /etc/passwd");
            (me.0.clone(), me.0.clone(), (me.1, me.2))
        };

        let ca = rcgen::CertifiedIssuer::self_signed(
            {
                let mut params =
                    rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, "csip test CA");
                params
            },
            rcgen::KeyPair::generate().expect("CA key"),
        )
        .expect("CA");
        let key = rcgen::KeyPair::generate().expect("server key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server params")
            .signed_by(&key, &ca)
            .expect("server certificate");
        fs::write(root.join("ca.pem"), ca.pem()).expect("ca.pem");
        fs::write(root.join("cert.pem"), cert.pem()).expect("cert.pem");
        fs::write(root.join("key.pem"), key.serialize_pem()).expect("key.pem");
        fs::write(root.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).expect("passwd");
        for sub in ["run", "state", "home"] {
            fs::create_dir(root.join(sub)).expect("folder");
        }
        let maildir = root.join("home").join(USER).join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        if uid == 0 {
            for path in [
                root.join("home"),
                root.join("home").join(USER),
                maildir.clone(),
                maildir.join("new"),
                maildir.join("cur"),
                maildir.join("tmp"),
            ] {
                std::os::unix::fs::chown(&path, Some(mail_owner.0), Some(mail_owner.1))
                    .expect("chown");
            }
        }
        let (imap_port, imaps_port) = (free_port(), free_port());
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/run
state_dir = {r}/state
log_path = {r}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{r}/cert.pem
ssl_key = <{r}/key.pem
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = {r}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={r}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
",
            internal_group = if uid == 0 {
                internal.clone()
            } else {
                group_name(mail_owner.1)
            },
            mail_uid = mail_owner.0,
            mail_gid = mail_owner.1,
        );
        fs::write(root.join("dovecot.conf"), conf).expect("dovecot.conf");
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(root.join("dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot starts");
        let mut dovecot = Dovecot {
            child,
            dir,
            imap_port,
            imaps_port,
            mail_owner,
        };
        // Ready when both ports accept (bounded: 20 s).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = [imap_port, imaps_port]
                .iter()
                .all(|port| TcpStream::connect(("127.0.0.1", *port)).is_ok());
            if up {
                break;
            }
            if let Ok(Some(status)) = dovecot.child.try_wait() {
                panic!("dovecot exited ({status}):\n{}", dovecot.log());
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not listen:\n{}",
                dovecot.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
        Some(dovecot)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("home").join(USER).join("Maildir")
    }

    /// Delivers a message to the user's `new/`, as a local delivery would.
    fn deliver(&self, name: &str, bytes: &[u8]) {
        let tmp = self.maildir().join("tmp").join(name);
        fs::write(&tmp, bytes).expect("write");
        if current_uid() == 0 {
            std::os::unix::fs::chown(&tmp, Some(self.mail_owner.0), Some(self.mail_owner.1))
                .expect("chown");
        }
        fs::rename(&tmp, self.maildir().join("new").join(name)).expect("deliver");
    }

    fn config(&self, starttls: bool, trust_ca: bool) -> ImapConfig {
        ImapConfig {
            url: if starttls {
                format!("imap://127.0.0.1:{}/INBOX", self.imap_port)
            } else {
                format!("imaps://localhost:{}/INBOX", self.imaps_port)
            },
            user: USER.to_string(),
            ca_file: trust_ca.then(|| self.dir.path().join("ca.pem")),
        }
    }
}

/// The name of a group, from /etc/group.
fn group_name(gid: u32) -> String {
    let text = fs::read_to_string("/etc/group").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let name = fields.first()?.to_string();
            (fields.get(2)?.parse::<u32>().ok()? == gid).then_some(name)
        })
        .unwrap_or_else(|| gid.to_string())
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGTERM to our child alone, so that it stops its own processes;
        // SIGKILL if it has not within 10 s.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the handle was called with: UID, and key and CSV or error.
type Calls = Vec<(String, Result<(String, Vec<u8>), MailError>)>;

fn record(calls: &mut Calls, uid: &str, found: &Result<Found, MailError>) {
    calls.push((
        uid.to_string(),
        found
            .as_ref()
            .map(|f| (f.key.clone(), f.attachment.bytes.clone()))
            .map_err(Clone::clone),
    ));
}

fn password() -> Secret {
    Secret::new(PASSWORD)
}

#[test]
fn reports_are_read_and_marked_seen_over_imaps_and_starttls() {
    let Some(dovecot) = Dovecot::start("reports_are_read_and_marked_seen_over_imaps_and_starttls")
    else {
        return;
    };
    dovecot.deliver("1732428300.M1P1.test", &fixture("multipart_base64.eml"));
    dovecot.deliver("1732428301.M2P1.test", &fixture("wrong_sender.eml"));
    dovecot.deliver("1732428302.M3P1.test", &fixture("no_csv.eml"));

    let mut calls = Calls::new();
    let summary = imap::process(
        &dovecot.config(false, true),
        &password(),
        &rules(),
        &mut |uid, found| {
            record(&mut calls, uid, &found);
            Ok(match found {
                Ok(_) => Handled::Committed,
                Err(e) => Handled::Rejected {
                    reason: e.to_string(),
                },
            })
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(summary.committed, 1);
    assert_eq!(summary.skipped, 1);
    assert_eq!(summary.rejected.len(), 1, "{summary:?}");
    assert_eq!(summary.rejected[0].0, "3");
    assert_eq!(calls.len(), 2, "{calls:?}");
    let (uid, report) = &calls[0];
    assert_eq!(uid, "1");
    let (key, csv) = report.as_ref().expect("the report");
    assert_eq!(key, "20261124060500.b64@tableau.company.com");
    assert!(
        csv.starts_with(
            b"Account,Metric Name,Current Value,Measured At\r\nGard AS,API Uptime,99.95%"
        ),
        "{}",
        String::from_utf8_lossy(csv)
    );
    assert_eq!(calls[1], ("3".to_string(), Err(MailError::NoCsv)));

    // Seen now: a second run hands over nothing, and the message that is
    // not ours is still unseen (skipped again).
    let summary = imap::process(
        &dovecot.config(false, true),
        &password(),
        &rules(),
        &mut |uid, _| panic!("UID {uid} was handled already"),
    )
    .expect("second run");
    assert_eq!(
        summary,
        ImapSummary {
            committed: 0,
            rejected: vec![],
            skipped: 1
        }
    );
    // Dovecot keeps \Seen as the maildir flag S.
    let cur: Vec<String> = fs::read_dir(dovecot.maildir().join("cur"))
        .expect("cur")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cur.iter().any(|n| n.starts_with("1732428300.M1P1.test")
            && n.contains(":2,")
            && n.ends_with('S')),
        "{cur:?}"
    );
    assert!(
        cur.iter()
            .any(|n| n.starts_with("1732428301.M2P1.test") && !n.contains('S')),
        "{cur:?}"
    );

    // The same over imap:// with STARTTLS.
    dovecot.deliver("1732428400.M4P1.test", &fixture("quoted_printable.eml"));
    let mut keys = Vec::new();
    let summary = imap::process(
        &dovecot.config(true, true),
        &password(),
        &rules(),
        &mut |_, found| {
            keys.push(found.expect("the report").key);
            Ok(Handled::Committed)
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", dovecot.log()));
    assert_eq!(summary.committed, 1);
    assert_eq!(keys, ["20261124060500.qp@tableau.company.com"]);
}

#[test]
fn a_handle_error_leaves_the_message_unseen_with_the_same_key() {
    let Some(dovecot) =
        Dovecot::start("a_handle_error_leaves_the_message_unseen_with_the_same_key")
    else {
        return;
    };
    dovecot.deliver("1732428300.M1P1.test", &fixture("single_part_csv.eml"));
    dovecot.deliver("1732428301.M2P1.test", &fixture("multipart_base64.eml"));
    let mut calls = Calls::new();
    let err = imap::process(
        &dovecot.config(false, true),
        &password(),
        &rules(),
        &mut |uid, found| {
            record(&mut calls, uid, &found);
            Err(HandleError("the store is read-only".to_string()))
        },
    )
    .expect_err("stopped");
    assert!(
        matches!(&err, ImapError::Handle { uid, .. } if uid == "1"),
        "{err:?}"
    );
    assert!(err.to_string().contains("the store is read-only"), "{err}");
    assert_eq!(calls.len(), 1, "stopped at the first");

    // Both are still unseen; the first comes again with the same key.
    let mut again = Calls::new();
    let summary = imap::process(
        &dovecot.config(false, true),
        &password(),
        &rules(),
        &mut |uid, found| {
            record(&mut again, uid, &found);
            Ok(Handled::Committed)
        },
    )
    .expect("second run");
    assert_eq!(summary.committed, 2);
    assert_eq!(again.len(), 2);
    assert_eq!(again[0], calls[0]);
}

#[test]
fn a_wrong_password_is_refused_without_showing_it() {
    let Some(dovecot) = Dovecot::start("a_wrong_password_is_refused_without_showing_it") else {
        return;
    };
    let wrong = "Wr0ng-pw-77-secret";
    let err = imap::process(
        &dovecot.config(false, true),
        &Secret::new(wrong),
        &rules(),
        &mut |_, _| panic!("not logged in"),
    )
    .expect_err("refused");
    assert!(matches!(err, ImapError::Login { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(wrong), "{shown}");
    assert!(
        shown.contains(USER) && shown.contains("CSIP_IMAP_PASSWORD"),
        "{shown}"
    );
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let Some(dovecot) = Dovecot::start("a_certificate_from_an_unknown_ca_is_refused") else {
        return;
    };
    for starttls in [false, true] {
        let err = imap::process(
            &dovecot.config(starttls, false),
            &password(),
            &rules(),
            &mut |_, _| panic!("not logged in"),
        )
        .expect_err("untrusted");
        assert!(matches!(err, ImapError::Tls { .. }), "{err:?}");
        assert!(err.to_string().contains("ca_file"), "{err}");
    }
}

/// A server that offers no STARTTLS never sees the password: the fake
/// answers CAPABILITY without it and records every line it is sent.
#[test]
fn a_server_without_starttls_is_not_sent_the_password() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let server = thread::spawn(move || {
        // Bounded: a client that never comes (it stopped before
        // connecting) leaves after 30 s with nothing received.
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Err(_) => return Vec::new(),
            }
        };
        stream.set_nonblocking(false).expect("blocking");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut writer = stream.try_clone().expect("clone");
        writer
            .write_all(b"* OK fake IMAP ready\r\n")
            .expect("greet");
        let mut received = Vec::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            received.push(line.clone());
            let tag = line.split(' ').next().unwrap_or("*").to_string();
            let reply = if line.to_ascii_uppercase().ends_with("CAPABILITY") {
                format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGIN\r\n{tag} OK done\r\n")
            } else {
                format!("{tag} OK whatever\r\n")
            };
            if writer.write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
        received
    });
    let config = ImapConfig {
        url: format!("imap://127.0.0.1:{port}/INBOX"),
        user: USER.to_string(),
        ca_file: None,
    };
    let err = imap::process(&config, &password(), &rules(), &mut |_, _| {
        panic!("not logged in")
    });
    // The client closes the connection when it returns the error; the fake
    // then sees the end of its input.
    let received = server.join().expect("the fake server");
    let err = match err {
        Err(err) => err,
        Ok(summary) => panic!("expected a refusal, got {summary:?}"),
    };
    // On a machine with no CA certificates at all, the client stops even
    // earlier, and still sends nothing.
    assert!(
        matches!(err, ImapError::NoStartTls { .. } | ImapError::NoRoots),
        "{err:?}"
    );
    assert!(
        received
            .iter()
            .all(|line| !line.contains(PASSWORD) && !line.to_ascii_uppercase().contains("LOGIN")),
        "{received:?}"
    );
}
