//! Slack's v0 request signature: is this request from Slack, and recent?
//!
//! Slack signs each request it sends with the app's signing secret:
//! `X-Slack-Signature` is `v0=` and the lowercase hex of
//! HMAC-SHA256(secret, `v0:{X-Slack-Request-Timestamp}:{raw body}`). A
//! receiver checks it on the raw bytes, before parsing the body, compares in
//! constant time, and refuses a timestamp more than five minutes from its
//! own clock either way (a replayed request).
//!
//! The clock is the caller's: [`verify`] takes the time as seconds since the
//! Unix epoch.

use csip_store::Secret;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// How far, in seconds, a request's timestamp may be from the receiver's
/// clock, either way (Slack's recommendation: five minutes).
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;

type HmacSha256 = Hmac<Sha256>;

/// Why a request's signature was refused.
///
/// No variant holds the secret, the signature or the body; each says only
/// which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// No `X-Slack-Request-Timestamp` header.
    #[error("the request has no X-Slack-Request-Timestamp header")]
    MissingTimestamp,
    /// The timestamp is not a whole number of seconds.
    #[error("the X-Slack-Request-Timestamp header is not a whole number of seconds")]
    MalformedTimestamp,
    /// The timestamp is more than [`MAX_CLOCK_SKEW_SECONDS`] in the past.
    #[error(
        "the request was signed {seconds} s ago, more than the {MAX_CLOCK_SKEW_SECONDS} s allowed"
    )]
    Stale {
        /// How long ago it was signed.
        seconds: u64,
    },
    /// The timestamp is more than [`MAX_CLOCK_SKEW_SECONDS`] in the future.
    #[error(
        "the request is dated {seconds} s ahead, more than the {MAX_CLOCK_SKEW_SECONDS} s allowed"
    )]
    FutureDated {
        /// How far ahead it is dated.
        seconds: u64,
    },
    /// No `X-Slack-Signature` header.
    #[error("the request has no X-Slack-Signature header")]
    MissingSignature,
    /// The signature is of a version other than `v0`.
    #[error("the X-Slack-Signature header is not of version v0")]
    UnsupportedVersion,
    /// The signature is not `v0=` and 64 hexadecimal digits.
    #[error("the X-Slack-Signature header is not v0= and 64 hexadecimal digits")]
    MalformedSignature,
    /// The signature is well formed but not the one of this body, timestamp
    /// and secret.
    #[error("the request's signature does not match")]
    Mismatch,
}

/// Checks a request's v0 signature: its timestamp is within
/// [`MAX_CLOCK_SKEW_SECONDS`] of `now_unix`, and its signature is the one
/// `signing_secret` gives this timestamp and these raw body bytes (compared
/// in constant time).
///
/// `timestamp` and `signature` are the values of the headers
/// `X-Slack-Request-Timestamp` and `X-Slack-Signature`, `None` when absent.
///
/// ```
/// use csip_slack::signature::{sign, verify, SignatureError};
/// use csip_store::Secret;
/// let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
/// let body = b"command=%2Fmulesoft-health&text=Gard+AS";
/// let signature = sign(&secret, "1700000000", body);
/// assert_eq!(verify(&secret, Some("1700000000"), Some(&signature), body, 1_700_000_060), Ok(()));
/// // Ten minutes later, the same request is a replay.
/// assert_eq!(
///     verify(&secret, Some("1700000000"), Some(&signature), body, 1_700_000_600),
///     Err(SignatureError::Stale { seconds: 600 })
/// );
/// ```
pub fn verify(
    signing_secret: &Secret,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?;
    let signed_at = parse_timestamp(timestamp)?;
    let skew = now_unix.abs_diff(signed_at);
    if skew > MAX_CLOCK_SKEW_SECONDS {
        return Err(if signed_at < now_unix {
            SignatureError::Stale { seconds: skew }
        } else {
            SignatureError::FutureDated { seconds: skew }
        });
    }
    let signature = signature.ok_or(SignatureError::MissingSignature)?;
    let tag = parse_signature(signature)?;
    let mac = keyed(signing_secret, timestamp, body).ok_or(SignatureError::Mismatch)?;
    mac.verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

/// The `X-Slack-Signature` value for this body sent at `timestamp`
/// (`v0=` and 64 lowercase hexadecimal digits), as Slack computes it: for
/// tests and the load bench, which sign requests as Slack does.
///
/// ```
/// use csip_slack::signature::sign;
/// use csip_store::Secret;
/// let signature = sign(&Secret::new("secret"), "1531420618", b"text=hi");
/// assert!(signature.starts_with("v0=") && signature.len() == 67);
/// ```
pub fn sign(signing_secret: &Secret, timestamp: &str, body: &[u8]) -> String {
    let Some(mac) = keyed(signing_secret, timestamp, body) else {
        // HMAC takes a key of any length (see `keyed`); an empty string
        // never verifies.
        return String::new();
    };
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 2 * tag.len());
    out.push_str("v0=");
    for byte in tag.iter() {
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0x0f));
    }
    out
}

/// The MAC over `v0:{timestamp}:{body}`, fed and ready to finalize.
fn keyed(secret: &Secret, timestamp: &str, body: &[u8]) -> Option<HmacSha256> {
    // `new_from_slice` fails only for MACs of a fixed key length; HMAC
    // hashes a long key and pads a short one, so this is always `Some`.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).ok()?;
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    Some(mac)
}

/// A timestamp header: ASCII digits only (no sign, no spaces), as Slack
/// sends it; it is signed as written, so nothing may be tolerated that
/// would make two spellings of one time.
fn parse_timestamp(text: &str) -> Result<i64, SignatureError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::MalformedTimestamp);
    }
    text.parse::<i64>()
        .map_err(|_| SignatureError::MalformedTimestamp)
}

/// The 32 bytes of a `v0=` signature.
fn parse_signature(text: &str) -> Result<[u8; 32], SignatureError> {
    let Some((version, hex)) = text.split_once('=') else {
        return Err(SignatureError::MalformedSignature);
    };
    if version != "v0" {
        return Err(SignatureError::UnsupportedVersion);
    }
    let hex = hex.as_bytes();
    if hex.len() != 64 {
        return Err(SignatureError::MalformedSignature);
    }
    let mut tag = [0u8; 32];
    for (byte, pair) in tag.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(high), Some(low)) = (hex_value(pair[0]), hex_value(pair[1])) else {
            return Err(SignatureError::MalformedSignature);
        };
        *byte = (high << 4) | low;
    }
    Ok(tag)
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

fn hex_digit(value: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(value & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's documented example ("Verifying requests from Slack").
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const NOW: i64 = 1_531_420_618;
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    fn secret() -> Secret {
        Secret::new(SECRET)
    }

    fn check(
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        verify(&secret(), timestamp, signature, body, now)
    }

    #[test]
    fn slacks_documented_example_signs_and_verifies() {
        assert_eq!(sign(&secret(), TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn uppercase_hex_is_the_same_signature() {
        let upper = format!("v0={}", SIGNATURE[3..].to_uppercase());
        assert_eq!(
            check(Some(TIMESTAMP), Some(&upper), BODY.as_bytes(), NOW),
            Ok(())
        );
    }

    #[test]
    fn the_window_is_five_minutes_either_way() {
        let body = BODY.as_bytes();
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, NOW + 300),
            Ok(())
        );
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, NOW - 300),
            Ok(())
        );
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, NOW + 301),
            Err(SignatureError::Stale { seconds: 301 })
        );
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, NOW + 600),
            Err(SignatureError::Stale { seconds: 600 })
        );
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, NOW - 301),
            Err(SignatureError::FutureDated { seconds: 301 })
        );
    }

    #[test]
    fn extreme_clocks_and_timestamps_do_not_overflow() {
        let body = BODY.as_bytes();
        assert!(matches!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, i64::MIN),
            Err(SignatureError::FutureDated { .. })
        ));
        assert!(matches!(
            check(Some(TIMESTAMP), Some(SIGNATURE), body, i64::MAX),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            check(Some("99999999999999999999999"), Some(SIGNATURE), body, NOW),
            Err(SignatureError::MalformedTimestamp)
        );
    }

    #[test]
    fn a_wrong_secret_or_a_changed_body_is_a_mismatch() {
        let other = Secret::new("8f742231b10e8888abcd99yyyzzz85a6");
        assert_eq!(
            verify(
                &other,
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                NOW
            ),
            Err(SignatureError::Mismatch)
        );
        // One byte changed, one added, one removed.
        let mut changed = BODY.as_bytes().to_vec();
        changed[BODY.len() - 1] ^= 1;
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), &changed, NOW),
            Err(SignatureError::Mismatch)
        );
        let added = format!("{BODY}&");
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), added.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
        let removed = &BODY.as_bytes()[..BODY.len() - 1];
        assert_eq!(
            check(Some(TIMESTAMP), Some(SIGNATURE), removed, NOW),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: another one within the window fails.
        assert_eq!(
            check(Some("1531420619"), Some(SIGNATURE), BODY.as_bytes(), NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_headers_are_refused() {
        let body = BODY.as_bytes();
        assert_eq!(
            check(None, Some(SIGNATURE), body, NOW),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            check(Some(TIMESTAMP), None, body, NOW),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            check(None, None, body, NOW),
            Err(SignatureError::MissingTimestamp)
        );
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in [
            "",
            " 1531420618",
            "1531420618 ",
            "+1531420618",
            "-1531420618",
            "1531420618.5",
            "abc",
            "１５３",
        ] {
            assert_eq!(
                check(Some(bad), Some(SIGNATURE), BODY.as_bytes(), NOW),
                Err(SignatureError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let hex = &SIGNATURE[3..];
        let body = BODY.as_bytes();
        let v1 = format!("v1={hex}");
        assert_eq!(
            check(Some(TIMESTAMP), Some(&v1), body, NOW),
            Err(SignatureError::UnsupportedVersion)
        );
        let cases = [
            String::new(),
            hex.to_string(),              // no version
            format!("v0={}", &hex[1..]),  // odd length
            format!("v0={}", &hex[2..]),  // short
            format!("v0={hex}00"),        // long
            format!("v0={}g", &hex[1..]), // not hex
            format!("v0={}é", &hex[2..]), // not ASCII, of the right byte length
            format!("v0= {}", &hex[1..]),
            "v0=".to_string(),
        ];
        for bad in &cases {
            assert_eq!(
                check(Some(TIMESTAMP), Some(bad), body, NOW),
                Err(SignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
        // Well formed, but another body's.
        let zeros = format!("v0={}", "0".repeat(64));
        assert_eq!(
            check(Some(TIMESTAMP), Some(&zeros), body, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn errors_never_show_the_secret_or_the_signature() {
        let errors = [
            check(Some(TIMESTAMP), Some(SIGNATURE), b"x", NOW),
            check(
                Some(TIMESTAMP),
                Some(SIGNATURE),
                BODY.as_bytes(),
                NOW + 1000,
            ),
        ];
        for error in errors {
            let error = error.expect_err("refused");
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains(SECRET) && !shown.contains(&SIGNATURE[3..]),
                "{shown}"
            );
        }
    }
}
