//! Slack for csip (DESIGN §5 "Slack"): the pieces of the slash commands and
//! of the messages csip posts, with no server of its own.
//!
//! `csip-server` mounts `POST /slack/commands` and calls, in this order:
//!
//! 1. [`signature::verify`] on the raw body and the two headers, before
//!    anything else is read (a refusal is a 401);
//! 2. [`form::SlashCommand::parse`] on the same bytes;
//! 3. [`command::Command::parse`] on its command and text, then resolves
//!    the names against the workbook (for `/mulesoft-update`, the first of
//!    [`command::Update::splits`] it finds);
//! 4. answers with a [`blocks::Message`] (its JSON is the HTTP answer), and
//!    follows up later with [`client::WebApi::respond`].
//!
//! The outbox's dispatcher posts with [`client::WebApi::post_message`] and
//! acts on the [`client::Delivery`]: sent, retry (after `Retry-After` when
//! Slack gave one) or failed for good.
//!
//! ```
//! use csip_slack::{Command, SlashCommand, signature};
//! use csip_store::Secret;
//!
//! let secret = Secret::new("8f742231b10e8888abcd99yyyzzz85a5");
//! let body = b"command=%2Fmulesoft-health&text=%E2%80%9CGard+AS%E2%80%9D&user_id=U2CERLKJA";
//! let stamp = "1700000000";
//! let header = signature::sign(&secret, stamp, body); // what Slack sends
//!
//! signature::verify(&secret, Some(stamp), Some(&header), body, 1_700_000_002)?;
//! let slash = SlashCommand::parse(body)?;
//! let command = Command::parse(&slash.command, &slash.text)?;
//! assert_eq!(command, Command::Health { account: "Gard AS".into() });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Which file for what: `signature.rs` the v0 signature; `form.rs` the form
//! body; `command.rs` words, quotes and the three commands; `blocks.rs`
//! Block Kit JSON, escaping and Slack's limits; `client.rs` the Web API
//! client and how an answer becomes a [`Delivery`].
//!
//! `reply.rs` reads the answers from a snapshot of the workbook: who is
//! asking, which account is meant, an account's health.
//!
//! **Architecture invariants:** no server, no clock (the caller passes the
//! time), nothing of the store beyond [`csip_store::Secret`], no other
//! adapter; the workbook is read (a snapshot the caller gives), never
//! written: the server commits. A secret is read through
//! `Secret::expose` in exactly two places: the HMAC key and the
//! `Authorization` header; no error, [`Delivery`] or `Debug` output holds
//! one. Nothing here logs.

#![warn(missing_docs)]

pub mod blocks;
pub mod client;
pub mod command;
pub mod form;
pub mod reply;
pub mod signature;

pub use blocks::{Block, Message, Mrkdwn, ResponseType};
pub use client::{ClientError, Delivery, WebApi};
pub use command::{Command, CommandError, SyncScope, Update, UpdateSplit};
pub use form::{FormError, SlashCommand};
pub use signature::SignatureError;
