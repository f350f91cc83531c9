//! A slash command's request body: `application/x-www-form-urlencoded`
//! fields, as Slack posts them.
//!
//! Parse it only after [`crate::signature::verify`] has accepted the raw
//! bytes. The body's verification `token` (deprecated by Slack in favour of
//! the signature) and any field not named here are ignored.

/// The fields of a slash command that csip reads.
///
/// Every field is as Slack sent it, percent-decoding and `+` undone;
/// an optional field that was absent is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlashCommand {
    /// The command, with its slash: `/mulesoft-health`.
    pub command: String,
    /// What the user typed after the command (may be empty).
    pub text: String,
    /// The Slack user's id (`U2CERLKJA`): how csip finds the member in
    /// People_Team (`Slack_User_ID`).
    pub user_id: String,
    /// The Slack user's name (display only; names change, ids do not).
    pub user_name: String,
    /// The channel the command was typed in.
    pub channel_id: String,
    /// The workspace.
    pub team_id: String,
    /// Where to post follow-ups (up to five within 30 minutes).
    pub response_url: String,
    /// For opening a modal in answer (valid for 3 seconds).
    pub trigger_id: String,
}

/// Why a slash command's body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// A required field (`command`, `user_id`) is absent or empty.
    #[error("the slash command has no `{field}` field")]
    Missing {
        /// The field's name.
        field: &'static str,
    },
    /// A field appears twice: which one counts would be a guess.
    #[error("the slash command has the field `{field}` more than once")]
    Repeated {
        /// The field's name.
        field: &'static str,
    },
}

impl SlashCommand {
    /// Parses a slash command's form-encoded body.
    ///
    /// Bytes that are not UTF-8 after percent-decoding become U+FFFD (�).
    ///
    /// ```
    /// use csip_slack::form::SlashCommand;
    /// let body = b"command=%2Fmulesoft-health&text=%E2%80%9CGard+AS%E2%80%9D&user_id=U2CERLKJA&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1";
    /// let command = SlashCommand::parse(body)?;
    /// assert_eq!(command.command, "/mulesoft-health");
    /// assert_eq!(command.text, "“Gard AS”");
    /// assert_eq!(command.user_id, "U2CERLKJA");
    /// assert_eq!(command.response_url, "https://hooks.slack.com/commands/1");
    /// assert_eq!(command.channel_id, "");
    /// # Ok::<(), csip_slack::form::FormError>(())
    /// ```
    pub fn parse(body: &[u8]) -> Result<SlashCommand, FormError> {
        let mut command = SlashCommand::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            let (field, slot) = match &*name {
                "command" => ("command", &mut command.command),
                "text" => ("text", &mut command.text),
                "user_id" => ("user_id", &mut command.user_id),
                "user_name" => ("user_name", &mut command.user_name),
                "channel_id" => ("channel_id", &mut command.channel_id),
                "team_id" => ("team_id", &mut command.team_id),
                "response_url" => ("response_url", &mut command.response_url),
                "trigger_id" => ("trigger_id", &mut command.trigger_id),
                _ => continue,
            };
            if seen.contains(&field) {
                return Err(FormError::Repeated { field });
            }
            seen.push(field);
            *slot = value.into_owned();
        }
        if command.command.is_empty() {
            return Err(FormError::Missing { field: "command" });
        }
        if command.user_id.is_empty() {
            return Err(FormError::Missing { field: "user_id" });
        }
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slacks_documented_body_parses() {
        let body = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example&enterprise_id=E0001&enterprise_name=Globular%20Construct%20Inc&channel_id=C2147483705&channel_name=test&user_id=U2147483697&user_name=Steve&command=/weather&text=94070&response_url=https://hooks.slack.com/commands/1234/5678&trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
        let command = SlashCommand::parse(body.as_bytes()).expect("parses");
        assert_eq!(
            command,
            SlashCommand {
                command: "/weather".into(),
                text: "94070".into(),
                user_id: "U2147483697".into(),
                user_name: "Steve".into(),
                channel_id: "C2147483705".into(),
                team_id: "T0001".into(),
                response_url: "https://hooks.slack.com/commands/1234/5678".into(),
                trigger_id: "13345224609.738474920.8088930838d88f008e0".into(),
            }
        );
    }

    #[test]
    fn text_is_decoded_plus_percent_and_unicode() {
        let body = "command=%2Fmulesoft-update&user_id=U1&text=%E2%80%98Nordic+Bank%E2%80%99+API+Uptime+99.5%25+%26+more";
        let command = SlashCommand::parse(body.as_bytes()).expect("parses");
        assert_eq!(command.text, "‘Nordic Bank’ API Uptime 99.5% & more");
    }

    #[test]
    fn optional_fields_default_to_empty() {
        let command = SlashCommand::parse(b"command=/mulesoft-health&user_id=U1").expect("parses");
        assert_eq!(command.text, "");
        assert_eq!(command.response_url, "");
        assert_eq!(command.trigger_id, "");
    }

    #[test]
    fn command_and_user_id_are_required() {
        assert_eq!(
            SlashCommand::parse(b"user_id=U1&text=x"),
            Err(FormError::Missing { field: "command" })
        );
        assert_eq!(
            SlashCommand::parse(b"command=&user_id=U1"),
            Err(FormError::Missing { field: "command" })
        );
        assert_eq!(
            SlashCommand::parse(b"command=/mulesoft-health&text=x"),
            Err(FormError::Missing { field: "user_id" })
        );
        assert_eq!(
            SlashCommand::parse(b""),
            Err(FormError::Missing { field: "command" })
        );
    }

    #[test]
    fn a_repeated_field_is_refused() {
        assert_eq!(
            SlashCommand::parse(b"command=/a&user_id=U1&user_id=U2"),
            Err(FormError::Repeated { field: "user_id" })
        );
        // Unknown fields may repeat.
        assert!(SlashCommand::parse(b"command=/a&user_id=U1&x=1&x=2").is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            &b"%"[..],
            b"%zz=%",
            b"&&&==",
            b"\xff\xfe=\xff",
            b"command=\xff&user_id=%ff",
        ] {
            let _ = SlashCommand::parse(body);
        }
        let command = SlashCommand::parse(b"command=/a%ff&user_id=U1").expect("parses");
        assert_eq!(command.command, "/a\u{fffd}");
    }
}
