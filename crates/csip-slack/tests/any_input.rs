//! No input makes the crate panic, and what it renders keeps Slack's
//! limits, whatever the text: property tests over made-up bodies, headers,
//! command texts and message texts.

use csip_slack::blocks::{
    MAX_BLOCKS, MAX_FIELD_TEXT, MAX_FIELDS, MAX_HEADER_TEXT, MAX_SECTION_TEXT,
};
use csip_slack::{Block, Command, Message, Mrkdwn, SlashCommand, signature};
use csip_store::Secret;
use proptest::prelude::*;

/// Text rich in what the parsers treat specially: quotes of every kind,
/// whitespace, escapes, and `new`.
fn tricky_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("“".to_string()),
        Just("”".to_string()),
        Just("‘".to_string()),
        Just("’".to_string()),
        Just("„".to_string()),
        Just(" ".to_string()),
        Just("\u{a0}".to_string()),
        Just("\t".to_string()),
        Just("new".to_string()),
        Just("help".to_string()),
        Just("Full Sync".to_string()),
        Just("&".to_string()),
        Just("<".to_string()),
        Just(">".to_string()),
        Just("😀".to_string()),
        "[a-zA-Z0-9]{1,4}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn utf16(text: &str) -> usize {
    text.encode_utf16().count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_body_parses_or_is_refused(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = SlashCommand::parse(&body);
    }

    #[test]
    fn any_headers_are_checked_without_panic(
        timestamp in prop::option::of(".{0,30}"),
        header in prop::option::of(prop_oneof![".{0,80}", "v0=[0-9a-fA-F]{0,70}"]),
        body in prop::collection::vec(any::<u8>(), 0..100),
        now in any::<i64>(),
    ) {
        let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let _ = signature::verify(&secret, timestamp.as_deref(), header.as_deref(), &body, now);
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not(
        body in prop::collection::vec(any::<u8>(), 0..100),
        flip in any::<prop::sample::Index>(),
        now in 0i64..4_000_000_000,
    ) {
        let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
        let stamp = now.to_string();
        let header = signature::sign(&secret, &stamp, &body);
        prop_assert_eq!(signature::verify(&secret, Some(&stamp), Some(&header), &body, now), Ok(()));
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 0x20;
            prop_assert!(signature::verify(&secret, Some(&stamp), Some(&header), &changed, now).is_err());
        }
    }

    #[test]
    fn any_command_text_parses_or_is_refused(text in tricky_text()) {
        for command in ["/mulesoft-update", "/mulesoft-health", "/mulesoft-sync", "/other"] {
            match Command::parse(command, &text) {
                Ok(Command::Update { args }) => {
                    prop_assert!(args.splits().next().is_some());
                    for split in args.splits() {
                        prop_assert!(!split.account.is_empty() && !split.metric.is_empty());
                    }
                }
                Ok(Command::Health { account } | Command::Sync { account, .. }) => {
                    prop_assert!(!account.is_empty());
                }
                Ok(Command::Help) | Err(_) => {}
            }
        }
    }
}

proptest! {
    // Long texts in many blocks: fewer cases.
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn any_message_keeps_slacks_limits(
        texts in prop::collection::vec(tricky_text(), 1..8),
        repeat in 1usize..80,
        blocks in 0usize..60,
    ) {
        let long: String = texts.concat().repeat(repeat);
        let mut message = Message::ephemeral(long.clone());
        for i in 0..blocks {
            let text = &texts[i % texts.len()];
            message = message.block(match i % 4 {
                0 => Block::header(long.clone()),
                1 => Block::section(Mrkdwn::new().bold(text).plain(&long)),
                2 => Block::fields(Mrkdwn::new(), texts.iter().map(|t| Mrkdwn::from(t.repeat(repeat))).collect()),
                _ => Block::context(vec![Mrkdwn::new().user(text).formatted(&long)]),
            });
        }
        let json = message.to_json();
        let rendered = json["blocks"].as_array().cloned().unwrap_or_default();
        prop_assert!(rendered.len() <= MAX_BLOCKS);
        for block in &rendered {
            match block["type"].as_str() {
                Some("header") => prop_assert!(utf16(block["text"]["text"].as_str().unwrap()) <= MAX_HEADER_TEXT),
                Some("section") => {
                    if let Some(text) = block["text"]["text"].as_str() {
                        prop_assert!(!text.trim().is_empty() && utf16(text) <= MAX_SECTION_TEXT);
                    }
                    let fields = block["fields"].as_array().cloned().unwrap_or_default();
                    prop_assert!(fields.len() <= MAX_FIELDS);
                    prop_assert!(block.get("text").is_some() || !fields.is_empty());
                    for field in fields {
                        prop_assert!(utf16(field["text"].as_str().unwrap()) <= MAX_FIELD_TEXT);
                    }
                }
                Some("context") => prop_assert!(!block["elements"].as_array().unwrap().is_empty()),
                Some("divider") => {}
                other => prop_assert!(false, "a block of type {:?}", other),
            }
        }
    }
}
