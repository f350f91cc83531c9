//! `POST /slack/commands` (DESIGN §5 "Slack"), mounted when
//! `CSIP_SLACK_SIGNING_SECRET` is set: the request's v0 signature checked
//! on the raw bytes before anything is read (401 otherwise, with one
//! warning line), the caller found in People_Team by their Slack user id,
//! and the command answered from the latest snapshot, in the HTTP answer
//! (Slack waits 3 s for it). A `/mulesoft-update` whose write takes longer
//! than `slack.answer_within_ms` is answered "working on it", and its
//! outcome follows through the command's `response_url`.

use crate::App;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use csip_engine::Workbook;
use csip_slack::client::{Delivery, WebApi};
use csip_slack::{Command, Message, SlashCommand, Update, reply};
use csip_store::Role;
use std::sync::{Arc, Mutex};

/// The signing secret's environment variable.
pub(crate) const SIGNING_SECRET: &str = "CSIP_SLACK_SIGNING_SECRET";

/// The seconds since the Unix epoch, by the machine's clock.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A message as the HTTP answer to a slash command.
fn answer(message: &Message) -> Response {
    axum::Json(message.to_json()).into_response()
}

pub(crate) async fn commands(
    State(app): State<App>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(secret) = app.config.integrations.secrets.get(SIGNING_SECRET) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Err(e) = csip_slack::signature::verify(
        secret,
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        &body,
        unix_now(),
    ) {
        tracing::warn!(target: "csip::slack", reason = %e, "refused a request to /slack/commands");
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": {
                "code": "unauthorized",
                "message": "the request does not carry a valid Slack signature"
            }})),
        )
            .into_response();
    }
    let slash = match SlashCommand::parse(&body) {
        Ok(s) => s,
        Err(e) => {
            return answer(&Message::ephemeral(format!(
                "I could not read that command: {e}"
            )));
        }
    };
    let command = match Command::parse(&slash.command, &slash.text) {
        Ok(c) => c,
        Err(e) => return answer(&Message::ephemeral(e.to_string())),
    };
    let snapshot = app.snapshot();
    let wb = &snapshot.wb;
    let Some(member) = reply::member(wb, &slash.user_id) else {
        return answer(&reply::not_a_member(&slash.user_id));
    };
    let message = match command {
        Command::Health { account } => match reply::find_account(wb, &account) {
            Ok(row) => reply::health(wb, row),
            Err(m) => m,
        },
        Command::Sync { account, scope } => match reply::find_account(wb, &account) {
            Ok(row) => {
                let name = reply::account_name(wb, row);
                let scope: csip_anypoint::Scope = scope
                    .name()
                    .parse()
                    .unwrap_or(csip_anypoint::Scope::FullSync);
                match crate::actions::start_sync(
                    &app,
                    &name,
                    scope,
                    &member.name,
                    Some(slash.response_url.clone()),
                ) {
                    Ok(job) => Message::ephemeral(format!(
                        "Syncing {name} from Anypoint ({}); the outcome follows here (job {}).",
                        scope.name(),
                        job.id
                    )),
                    Err(e) => Message::ephemeral(format!(
                        "{name} ({}) was not synced: {}",
                        scope.name(),
                        e.message
                    )),
                }
            }
            Err(m) => m,
        },
        Command::Update { args } => update(&app, &slash, member, args).await,
        _ => reply::usage(),
    };
    answer(&message)
}

/// `/mulesoft-update`: checked against the snapshot (so that a mistake is
/// answered without the writer), then built again against the writer's
/// workbook and committed with the member as the actor, a confirmation
/// for the updates channel put in the outbox in the same transaction.
async fn update(app: &App, slash: &SlashCommand, member: reply::Member, update: Update) -> Message {
    let integrations = &app.config.integrations;
    let role = if integrations.slack.admins.contains(&slash.user_id) {
        Role::Admin
    } else if member.role.eq_ignore_ascii_case("CSM") {
        Role::Csm
    } else {
        Role::Viewer
    };
    if role == Role::Viewer {
        return Message::ephemeral(format!(
            "{}, you can read from csip here, but only CSMs and admins update metrics.",
            member.name
        ));
    }
    let at = crate::now();
    let snapshot = app.snapshot();
    let plan = match reply::plan_update(&snapshot.wb, &update, at) {
        Ok(plan) => plan,
        Err(m) => return m,
    };
    if let Err(e) = role.check(&snapshot.wb, &plan.tx) {
        return Message::ephemeral(format!("I cannot make that change for you: {e}"));
    }
    drop(snapshot);
    // One message per command, whatever retries: Slack's trigger id.
    let key = if slash.trigger_id.is_empty() {
        format!("slack:update:{}:{}:{}", slash.user_id, at, slash.text)
    } else {
        format!("slack:update:{}", slash.trigger_id)
    };
    let kept: Arc<Mutex<Option<reply::UpdatePlan>>> = Arc::default();
    let build: crate::Build = {
        let (kept, update) = (kept.clone(), update.clone());
        Box::new(move |wb: &Workbook| {
            let plan = reply::plan_update(wb, &update, at)
                .map_err(|m| crate::error::ApiError::bad_request(m.text))?;
            role.check(wb, &plan.tx)
                .map_err(crate::error::ApiError::forbidden)?;
            let tx = plan.tx.clone();
            *kept.lock().unwrap_or_else(|p| p.into_inner()) = Some(plan);
            Ok(tx)
        })
    };
    let messages: Option<csip_store::Messages> =
        integrations.slack.updates_channel.clone().map(|channel| {
            let (kept, who) = (kept.clone(), member.name.clone());
            Box::new(move |wb: &Workbook, changes: &csip_engine::ChangeSet| {
                let plan = kept.lock().unwrap_or_else(|p| p.into_inner());
                plan.as_ref()
                    .map(|plan| {
                        let message = reply::updated(wb, plan, changes, &who);
                        vec![csip_store::OutboxMessage::new(
                            key,
                            "slack",
                            channel.clone(),
                            message.to_post_json(&channel),
                        )]
                    })
                    .unwrap_or_default()
            }) as csip_store::Messages
        });
    let app2 = app.clone();
    let actor = member.name.clone();
    let mut finished = tokio::spawn(async move {
        let writer = app2.clone();
        let committed = tokio::task::spawn_blocking(move || {
            writer.commit_grouped(
                build,
                actor,
                Box::new(|_, _, _| serde_json::Value::Null),
                messages,
            )
        })
        .await;
        match committed {
            Ok(Ok((changes, commit, _))) => {
                tracing::info!(target: "csip::write", person = %member.name, commit, via = "slack", "metric updated");
                let plan = kept.lock().unwrap_or_else(|p| p.into_inner()).take();
                match plan {
                    Some(plan) => {
                        reply::updated(&app2.snapshot().wb, &plan, &changes, &member.name)
                    }
                    None => Message::ephemeral("Done."),
                }
            }
            Ok(Err(e)) => Message::ephemeral(format!("Nothing was written: {}", e.message)),
            Err(e) => Message::ephemeral(format!("Nothing was written: {e}")),
        }
    });
    match tokio::time::timeout(integrations.slack.answer_within, &mut finished).await {
        Ok(Ok(message)) => message,
        Ok(Err(e)) => Message::ephemeral(format!("Nothing was written: {e}")),
        Err(_) => {
            // Slack gives up after 3 s: answer now, and the outcome later.
            let response_url = slash.response_url.clone();
            tokio::spawn(async move {
                let message = finished
                    .await
                    .unwrap_or_else(|e| Message::ephemeral(format!("Nothing was written: {e}")));
                follow_up(&response_url, &message).await;
            });
            Message::ephemeral("Writing that now; the outcome follows here in a moment.")
        }
    }
}

/// Posts a command's outcome to its `response_url`, trying a few times
/// when Slack asks to wait (it takes 5 posts to one URL in 30 minutes).
pub(crate) async fn follow_up(response_url: &str, message: &Message) {
    let slack = match WebApi::responder(std::time::Duration::from_secs(10)) {
        Ok(slack) => slack,
        Err(e) => {
            tracing::warn!(target: "csip::slack", reason = %e, "a command's outcome could not be posted");
            return;
        }
    };
    let mut wait = std::time::Duration::from_secs(1);
    for attempt in 1..=3 {
        match slack.respond(response_url, message).await {
            Delivery::Sent => return,
            Delivery::Retry { after, reason } if attempt < 3 => {
                tracing::info!(target: "csip::slack", %reason, attempt, "a command's outcome will be posted again");
                tokio::time::sleep(after.unwrap_or(wait)).await;
                wait *= 2;
            }
            Delivery::Retry { reason, .. } => {
                tracing::warn!(target: "csip::slack", %reason, "a command's outcome could not be posted");
            }
            Delivery::Failed { code } => {
                tracing::warn!(target: "csip::slack", %code, "a command's outcome could not be posted");
                return;
            }
        }
    }
}
