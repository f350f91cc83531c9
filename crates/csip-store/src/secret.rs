//! Secrets (DESIGN §5 "Configuration and secrets"): a signing secret, a
//! bot token, a client secret. One comes only from an environment variable
//! or from a secrets file readable by its owner alone; its text is read
//! through [`Secret::expose`] where it is used (a signature, an
//! `Authorization` header) and nowhere else: `Debug` and `Display` print
//! `***`, so a secret in a struct that is logged, or in an error, shows as
//! that.

/// A secret's text, which prints as `***`.
///
/// ```
/// use csip_store::Secret;
/// let token = Secret::new("xoxb-123");
/// assert_eq!(format!("{token:?} {token}"), "*** ***");
/// assert_eq!(token.expose(), "xoxb-123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A secret of this text.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret from the environment variable `name`; `None` when it is
    /// not set or empty (a variable that is not Unicode is not set).
    pub fn from_env(name: &str) -> Option<Secret> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .map(|v| Secret(v.trim().to_string()))
    }

    /// The text, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_in_a_struct_prints_as_stars() {
        #[derive(Debug)]
        #[allow(dead_code)] // read through Debug
        struct Client {
            url: String,
            token: Secret,
        }
        let c = Client {
            url: "http://127.0.0.1".into(),
            token: Secret::new("xoxb-very-secret"),
        };
        let shown = format!("{c:?} {:#?} {}", c, c.token);
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("***"));
    }
}
