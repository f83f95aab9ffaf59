//! The dispatcher: sends the mail the requests queued ([`crate::store::mail`]), moves
//! marked audit events into their organizations' streams ([`crate::core::events`]) and
//! delivers them to webhook endpoints ([`crate::core::webhooks`]). On AWS
//! the `dispatcher` function runs it on an EventBridge schedule, once a minute, and
//! each run polls for about as long as the schedule's period, so a message waits about
//! a second, not a minute; under `make run` the local stack invokes it the same way.
//!
//! Each job is taken for a lease (a dispatcher that dies mid-send leaves it to the next
//! after the lease), its link's token made and stored (hashed) right before the send,
//! and removed once sent. A send that fails (SES throttling, an unverified identity, a
//! network fault) is retried with backoff; after the last attempt the job is kept,
//! marked failed with its reason, and an error is logged: never a silent drop.

use std::time::{Duration, Instant};

use mongodb::bson::{DateTime, oid::ObjectId};

use crate::app::App;
use crate::auth::links::new_token;
use crate::core::accounts::{RESET_TTL_MS, VERIFY_TTL_MS};
use crate::core::audit::{self as log, Actor, Context as AuditContext, Event, Outcome, Target};
use crate::core::events;
use crate::core::webhooks::{self as hooks, Attempt};
use crate::email::templates::{Facts, render};
use crate::email::{Kind, Message};
use crate::error::ApiResult;
use crate::routes::views::timestamp;
use crate::store::invitations::{self, Status};
use crate::store::mail::{self, MailJob};
use crate::store::tokens::{self, Purpose};
use crate::store::webhooks::{self, DeliveryDoc, DeliveryStatus, WebhookDoc};
use crate::store::{attempts, registry, users};
use futures_util::future::join_all;
use mongodb::bson::doc;

/// How long a dispatcher holds a job it took.
const LEASE_MS: i64 = 60_000;
/// Waits before the 2nd, 3rd, ... attempt; after the last, the job is given up.
const BACKOFF_MS: [i64; 6] = [30_000, 60_000, 120_000, 300_000, 900_000, 1_800_000];
/// Reset messages one address gets per hour at most.
const RESETS_PER_HOUR: i64 = 3;
/// How often an idle dispatcher looks for due jobs.
const POLL: Duration = Duration::from_secs(1);

/// What a run did.
#[derive(Debug, Default, serde::Serialize)]
pub struct Report {
    /// Messages sent.
    pub sent: usize,
    /// Jobs with nothing to send (no account, superseded, over the hourly limit).
    pub skipped: usize,
    /// Sends that failed (retried later, or given up).
    pub failed: usize,
    /// Events moved into their streams.
    pub streamed: usize,
    /// Webhook attempts that a receiver took (2xx).
    pub delivered: usize,
    /// Webhook attempts that failed (retried on the schedule, or failed for good).
    pub undelivered: usize,
    /// (v3) Deliveries of suspended organizations, left to wait (taken again once their
    /// lease has passed; no attempt is counted).
    pub waiting: usize,
}

/// How long a dispatcher holds a delivery it took (an attempt takes 10 s at most).
const DELIVERY_LEASE_MS: i64 = 60_000;
/// Deliveries attempted at once.
const PARALLEL_DELIVERIES: usize = 16;
/// Audit events looked at per sweep for organizations to stream.
const STREAM_SCAN: i64 = 1000;

/// Runs sweeps until `budget` has passed, one a second when idle.
pub async fn run(app: &App, budget: Duration) -> ApiResult<Report> {
    let end = Instant::now() + budget;
    let mut report = Report::default();
    loop {
        sweep(app, &mut report, end).await?;
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(report);
        }
        tokio::time::sleep(left.min(POLL)).await;
    }
}

/// Handles every job due now: mail, streams, deliveries; takes no more deliveries once
/// `deadline` has passed (what it took is attempted: 10 s at most), so a run ends within
/// its invocation's time.
pub async fn sweep(app: &App, report: &mut Report, deadline: Instant) -> ApiResult<()> {
    loop {
        let now = DateTime::now().timestamp_millis();
        let Some(job) = mail::take_due(&app.store, now, LEASE_MS).await? else {
            break;
        };
        handle(app, job, report).await?;
    }
    for org in crate::store::audit::unstreamed_orgs(&app.store, STREAM_SCAN).await? {
        report.streamed += events::stream(&app.store, &org).await?;
    }
    loop {
        let mut taken = Vec::new();
        while taken.len() < PARALLEL_DELIVERIES && Instant::now() < deadline {
            let now = DateTime::now().timestamp_millis();
            match webhooks::take_due(&app.store, now, DELIVERY_LEASE_MS).await? {
                Some(delivery) => taken.push(delivery),
                None => break,
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        for outcome in join_all(taken.into_iter().map(|d| deliver(app, d))).await {
            match outcome? {
                Some(true) => report.delivered += 1,
                Some(false) => report.undelivered += 1,
                None => report.waiting += 1,
            }
        }
    }
}

/// One attempt of a delivery, recorded; true when the receiver took it. A deleted or
/// disabled endpoint gets nothing: the delivery fails at once. A suspended
/// organization's delivery waits (`None`), with no attempt counted: it is looked at
/// again a lease later, and its organization's resume makes it due at once.
async fn deliver(app: &App, delivery: DeliveryDoc) -> ApiResult<Option<bool>> {
    let store = &app.store;
    let now = DateTime::now();
    if registry::suspended(store, &delivery.org).await? {
        let later = now.timestamp_millis() + DELIVERY_LEASE_MS;
        webhooks::wait(store, &delivery.id, later).await?;
        return Ok(None);
    }
    let mut attempts: Vec<Attempt> = serde_json::from_str(&delivery.attempts).unwrap_or_default();
    let hook = webhooks::by_id(store, &delivery.org, &delivery.webhook).await?;
    let Some(hook) = hook.filter(|h| h.enabled) else {
        attempts.push(Attempt {
            at: timestamp(now),
            status_code: None,
            error: Some("the endpoint is disabled or deleted".into()),
            duration_ms: 0,
        });
        let text = serde_json::to_string(&attempts).unwrap_or_default();
        webhooks::settle(store, &delivery.id, DeliveryStatus::Failed, i64::MAX, &text).await?;
        return Ok(Some(false));
    };
    let keys = hooks::signing_keys(&app.config.jwt, &hook.secrets, now.timestamp_millis());
    let signer = (delivery.id.as_str(), keys.as_slice());
    let attempt = hooks::attempt(
        &hook.url,
        app.config.local,
        signer,
        &delivery.body,
        timestamp(now),
    )
    .await;
    let ok = attempt.succeeded();
    // The attempt's log line, with the metrics the alarms watch (Embedded Metric Format).
    let metrics: &[&str] = if ok {
        &["WebhookAttempts"]
    } else {
        &["WebhookAttempts", "WebhookAttemptsFailed"]
    };
    crate::metrics::count(
        "webhook attempt",
        metrics,
        serde_json::json!({
            "delivery": delivery.id,
            "status_code": attempt.status_code,
            "duration_ms": attempt.duration_ms,
            "ok": ok,
        }),
    );
    attempts.push(attempt);
    let text = serde_json::to_string(&attempts).unwrap_or_default();
    let org = delivery.org.as_str();
    if ok {
        webhooks::settle(
            store,
            &delivery.id,
            DeliveryStatus::Succeeded,
            i64::MAX,
            &text,
        )
        .await?;
        if hook.failing_since_ms.is_some() {
            webhooks::update(
                store,
                org,
                &hook.id,
                doc! {},
                doc! { "failing_since_ms": "" },
            )
            .await?;
        }
        return Ok(Some(true));
    }
    let schedule = &app.config.webhooks.retry_schedule;
    let (status, due) = match schedule.get(attempts.len() - 1) {
        Some(wait) => (
            DeliveryStatus::Pending,
            now.timestamp_millis() + wait.as_millis() as i64,
        ),
        None => (DeliveryStatus::Failed, i64::MAX),
    };
    webhooks::settle(store, &delivery.id, status, due, &text).await?;
    failing(app, &hook, now.timestamp_millis()).await?;
    Ok(Some(false))
}

/// After a failed attempt: the endpoint's failure clock starts, or, once it has run
/// `WEBHOOK_DISABLE_AFTER_HOURS`, the endpoint is disabled (`webhook.disabled`).
async fn failing(app: &App, hook: &WebhookDoc, now_ms: i64) -> ApiResult<()> {
    let store = &app.store;
    let Some(since) = hook.failing_since_ms else {
        let set = doc! { "failing_since_ms": now_ms };
        webhooks::update(store, &hook.org, &hook.id, set, doc! {}).await?;
        return Ok(());
    };
    if now_ms - since < app.config.webhooks.disable_after.as_millis() as i64 {
        return Ok(());
    }
    let set = doc! { "enabled": false };
    webhooks::update(store, &hook.org, &hook.id, set, doc! {}).await?;
    if let Ok(org) = ObjectId::parse_str(&hook.org) {
        let context = AuditContext {
            ip: "dispatcher".into(),
            user_agent: "dispatcher".into(),
            request_id: format!("disable-{}-{since}", hook.id),
        };
        let event = Event::new(
            &context,
            "webhook.disabled",
            Outcome::Success,
            Actor::anonymous(None),
        )
        .target(Target::new("webhook", &hook.id, Some(&hook.url)))
        .meta("failing_since", timestamp(DateTime::from_millis(since)));
        log::record(store, org, &[event]).await?;
    }
    tracing::warn!(webhook = %hook.id, "webhook endpoint disabled: every delivery failed");
    Ok(())
}

/// Sends one job's message, and settles the job.
async fn handle(app: &App, job: MailJob, report: &mut Report) -> ApiResult<()> {
    let kind = job.kind.as_str();
    let message = match compose(app, &job).await? {
        Some(message) => message,
        None => {
            report.skipped += 1;
            tracing::info!(job = %job.id, kind, "nothing to send");
            return Ok(mail::done(&app.store, job.id).await?);
        }
    };
    match app.mailer.send(&message, &job.id.to_hex()).await {
        Ok(sent) => {
            report.sent += 1;
            tracing::info!(job = %job.id, kind, message_id = %sent, "email sent");
            mail::done(&app.store, job.id).await?;
        }
        Err(err) => {
            report.failed += 1;
            let attempt = usize::try_from(job.attempts.max(1) - 1).unwrap_or(usize::MAX);
            match BACKOFF_MS.get(attempt) {
                Some(wait) => {
                    tracing::warn!(job = %job.id, kind, attempt = job.attempts, error = %err, "email not sent; will retry");
                    let due = DateTime::now().timestamp_millis() + wait;
                    mail::retry(&app.store, job.id, due, &err.to_string()).await?;
                }
                None => {
                    tracing::error!(job = %job.id, kind, attempts = job.attempts, error = %err, "email not sent; given up");
                    mail::give_up(&app.store, job.id, &err.to_string()).await?;
                }
            }
        }
    }
    Ok(())
}

fn hex_id(raw: Option<&String>) -> Option<ObjectId> {
    raw.and_then(|h| ObjectId::parse_str(h).ok())
}

/// The name of the organization `org`, for a message's words.
async fn org_name(app: &App, org: Option<ObjectId>) -> ApiResult<Option<String>> {
    Ok(match org {
        Some(id) => registry::by_id(&app.store, id).await?.map(|o| o.name),
        None => None,
    })
}

/// The message of a job, with a fresh token where it carries a link; `None` when there
/// is nothing to send.
async fn compose(app: &App, job: &MailJob) -> ApiResult<Option<Message>> {
    let now = DateTime::now().timestamp_millis();
    let store = &app.store;
    let mut facts = Facts {
        email: job.to.clone(),
        ..Facts::default()
    };
    let link = |fragment: &str, token: &str| format!("{}#{fragment}={token}", job.app_url);
    match job.kind {
        Kind::Reset => {
            let Some(user) = users::by_email(store, &job.to).await? else {
                return Ok(None);
            };
            // Counted once per job, however many attempts its send takes.
            if job.attempts <= 1 {
                let key = format!("reset-mail:{}", user.id.to_hex());
                let (sent, _) = attempts::count(store, &key, Duration::from_secs(3600)).await?;
                if sent > RESETS_PER_HOUR {
                    return Ok(None);
                }
            }
            let (hash, token) = new_token();
            let expires = now + RESET_TTL_MS;
            tokens::replace(store, Purpose::Reset, user.id, &user.email, &hash, expires).await?;
            facts.org = org_name(app, user.orgs.first().copied())
                .await?
                .unwrap_or_default();
            facts.link = link("reset", &token);
            facts.expires = "30 minutes".into();
        }
        Kind::Verify => {
            let Some(id) = hex_id(job.user.as_ref()) else {
                return Ok(None);
            };
            let Some(user) = users::by_id(store, id).await? else {
                return Ok(None);
            };
            let current = user.email == job.to || user.pending_email.as_ref() == Some(&job.to);
            if !current {
                return Ok(None);
            }
            let (hash, token) = new_token();
            let expires = now + VERIFY_TTL_MS;
            tokens::replace(store, Purpose::Verify, user.id, &job.to, &hash, expires).await?;
            facts.org = org_name(app, hex_id(job.org.as_ref()))
                .await?
                .unwrap_or_default();
            facts.link = link("verify", &token);
            facts.expires = "24 hours".into();
        }
        Kind::Invitation => {
            let (Some(org_id), Some(id)) = (hex_id(job.org.as_ref()), job.invitation.as_ref())
            else {
                return Ok(None);
            };
            let Some(org) = registry::by_id(store, org_id).await? else {
                return Ok(None);
            };
            let (hash, token) = new_token();
            let job_id = job.id.to_hex();
            let Some(inv) = invitations::set_mailed_token(store, id, &job_id, &hash, now).await?
            else {
                return Ok(None);
            };
            debug_assert_eq!(inv.status, Status::Pending);
            let inviter = hex_id(Some(&inv.invited_by)).and_then(|u| org.member(u));
            facts.inviter = inviter.map_or_else(|| "A member".into(), |m| m.email.clone());
            facts.role = inv.role.as_str().to_owned();
            facts.org = org.name;
            facts.link = link("accept", &token);
            facts.expires = in_words(inv.expires_ms - now);
            facts.expires_at = timestamp(inv.expires_at);
        }
        Kind::EmailChanged => {
            facts.org = org_name(app, hex_id(job.org.as_ref()))
                .await?
                .unwrap_or_default();
            facts.new_email = job.new_email.clone().unwrap_or_default();
            facts.link = job.app_url.clone();
        }
    }
    if facts.org.is_empty() {
        facts.org = "your organization".into();
    }
    render(job.kind, &job.to, &facts)
        .map(Some)
        .map_err(crate::error::ApiError::internal)
}

/// A duration to come, rounded in the largest unit that fits twice ("7 days", "5
/// hours", "30 minutes").
fn in_words(ms: i64) -> String {
    const DAY: i64 = 24 * 60;
    let minutes = ((ms + 30_000) / 60_000).max(1);
    let (n, unit) = match minutes {
        m if m >= 2 * DAY => ((m + DAY / 2) / DAY, "days"),
        m if m >= 2 * 60 => ((m + 30) / 60, "hours"),
        m => (m, "minutes"),
    };
    let unit = if n == 1 {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!("{n} {unit}")
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn durations_in_words() {
        assert_eq!(in_words(7 * 24 * 3600 * 1000), "7 days");
        assert_eq!(in_words(7 * 24 * 3600 * 1000 - 5000), "7 days");
        assert_eq!(in_words(24 * 3600 * 1000), "24 hours");
        assert_eq!(in_words(30 * 60 * 1000), "30 minutes");
        assert_eq!(in_words(10), "1 minute");
    }
}
