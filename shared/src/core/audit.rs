//! The audit trail: its event type and its writer (one event per state-changing
//! request, and one per refusal, 403). Its queries are [`crate::store::audit`].
//!
//! Write order, without transactions, within one extra round trip per request:
//! - a change that is a write to the organization's document (created, renamed,
//!   deleted, a member's role changed, removed, left, an invitation accepted, a user's
//!   logout) carries its event in that same write, in the document's bounded outbox
//!   (`audit_outbox`), so the event exists exactly when the change does; for a
//!   multi-step operation, the event is prepared when it starts (kept in its `pending`
//!   record) and moved into the outbox by the write that makes it take effect, whoever
//!   finishes it. One extra command then copies the outbox into `audit_events`
//!   (duplicates ignored). A crash between the two leaves the event in the outbox: the
//!   organization's next event, `GET /org/audit` and its deletion copy it, so an event
//!   is never lost;
//! - an email or password change is a write to the account: its event is kept on the
//!   account with the change (`email_event`, `password_event`) and goes into each
//!   organization's outbox with the write that finishes it there; a crash between is
//!   finished, event included, by the user's next login;
//! - other changes (items, invitations sent, resent or revoked, logins) and refusals
//!   write their event with that one command right after; an item's event has an id of
//!   its own (`Event::once_per_target`), so a retry that finds the item made writes it;
//! - an event's id is derived from the request id, so a retried request never adds a
//!   second one, and no success event is written for a change that did not happen.
//!
//! Never a password, hash, token or invitation token: events are built from ids,
//! names, emails and roles only.

use lambda_http::Request;
use mongodb::bson::{DateTime, oid::ObjectId};
use serde::{Deserialize, Serialize};

use crate::domain::Role;
use crate::http::{request_id, source_ip, user_agent};
use crate::store::{OrgDoc, Store};

/// Whether the action happened or was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It took effect.
    Success,
    /// It was refused (403).
    Denied,
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// `user`, `api_key`, `operator` or `anonymous`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The email, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An API key's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Actor {
    /// A user.
    pub fn user(id: ObjectId, email: &str) -> Self {
        Self {
            kind: "user".into(),
            id: Some(id.to_hex()),
            email: Some(email.to_owned()),
            name: None,
        }
    }

    /// An organization's API key.
    pub fn api_key(id: ObjectId, name: &str) -> Self {
        Self {
            kind: "api_key".into(),
            id: Some(id.to_hex()),
            email: None,
            name: Some(name.to_owned()),
        }
    }

    /// (v3) One of the people who run the service: its IAM principal, or `local`.
    pub fn operator(id: &str) -> Self {
        Self {
            kind: "operator".into(),
            id: Some(id.to_owned()),
            email: None,
            name: None,
        }
    }

    /// A function of the service's own (the scheduled purge).
    pub fn system(id: &str) -> Self {
        Self {
            kind: "system".into(),
            id: Some(id.to_owned()),
            email: None,
            name: None,
        }
    }

    /// Someone not logged in (a failed login names the email tried).
    pub fn anonymous(email: Option<&str>) -> Self {
        Self {
            kind: "anonymous".into(),
            id: None,
            email: email.map(str::to_owned),
            name: None,
        }
    }
}

/// What was acted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// `user`, `organization`, `invitation` or `item`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// Its name or email, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Target {
    /// A target of `kind`.
    pub fn new(kind: &str, id: impl ToString, name: Option<&str>) -> Self {
        Self {
            kind: kind.into(),
            id: id.to_string(),
            name: name.map(str::to_owned),
        }
    }
}

/// Where the request came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Client address as API Gateway saw it.
    pub ip: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// The request id (also the response's `x-request-id`).
    pub request_id: String,
}

impl Context {
    /// The context of a request.
    pub fn of(req: &Request) -> Self {
        Self {
            ip: source_ip(req),
            user_agent: user_agent(req),
            request_id: request_id(req),
        }
    }
}

/// One event, without its organization (added when it is stored: one event can be
/// recorded in several organizations, as a logout is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Derived from the request id, the action and the first target.
    pub id: String,
    /// When, in ms since the epoch.
    pub at_ms: i64,
    /// E.g. `member.role_changed`.
    pub action: String,
    /// Success or denied.
    pub outcome: Outcome,
    /// Who.
    pub actor: Actor,
    /// What.
    pub targets: Vec<Target>,
    /// From where.
    pub context: Context,
    /// Details (`from`, `to`, ...).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    /// An event of `action` by `actor` in the request of `context`.
    pub fn new(context: &Context, action: &str, outcome: Outcome, actor: Actor) -> Self {
        let mut event = Self {
            id: String::new(),
            at_ms: DateTime::now().timestamp_millis(),
            action: action.to_owned(),
            outcome,
            actor,
            targets: Vec::new(),
            context: context.clone(),
            metadata: serde_json::Map::new(),
        };
        event.id = event.derive_id();
        event
    }

    /// The same event with a target.
    pub fn target(mut self, target: Target) -> Self {
        self.targets.push(target);
        self.id = self.derive_id();
        self
    }

    /// The same event with a detail.
    pub fn meta(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// A role change's details.
    pub fn roles(self, from: Role, to: Role) -> Self {
        self.meta("from", from.as_str()).meta("to", to.as_str())
    }

    /// The same event with an id of its action and first target alone, for an action
    /// that happens once per target (an item is created once): a retry of the request
    /// that did it records the same event, never a second one.
    pub fn once_per_target(mut self) -> Self {
        self.id = hashed(&format!("{}|{}", self.action, self.first_target()));
        self
    }

    /// An event of the service's own function `job` (the purge, the import) on
    /// organization `org` (named `name`): one per action and organization, whichever
    /// run of the function writes it.
    pub fn of_job(job: &str, action: &str, org: ObjectId, name: &str) -> Self {
        let context = Context {
            ip: String::new(),
            user_agent: job.into(),
            request_id: format!("{job}-{}", org.to_hex()),
        };
        let mut event = Self::new(&context, action, Outcome::Success, Actor::system(job))
            .target(Target::new("organization", org, Some(name)));
        event.id = Self::id_of(&format!("{action}|{}", org.to_hex()));
        event
    }

    /// An event id derived from `seed` (for an action that happens once per seed).
    pub fn id_of(seed: &str) -> String {
        hashed(seed)
    }

    fn first_target(&self) -> &str {
        self.targets.first().map_or("", |t| t.id.as_str())
    }

    fn derive_id(&self) -> String {
        let seed = format!(
            "{}|{}|{}",
            self.context.request_id,
            self.action,
            self.first_target()
        );
        hashed(&seed)
    }

    /// The event as the outbox of a document holds it: JSON text (one form on every
    /// server).
    pub fn to_outbox(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the event is also an event of the organization's stream (and so of its
    /// webhooks): an action that took effect, other than a login and a purge (after
    /// which the organization has no stream).
    pub fn is_streamed(&self) -> bool {
        self.outcome == Outcome::Success
            && !self.action.starts_with("user.login_")
            && self.action != "organization.purged"
    }

    /// An event from an outbox entry.
    pub fn from_outbox(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// An event id: 32 hex digits of SHA-256 of `seed`.
fn hashed(seed: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, seed.as_bytes());
    crate::store::invitations::hex(&digest.as_ref()[..16])
}

/// Records events of `org` (one command; those recorded before are kept as they are).
pub async fn record(store: &Store, org: ObjectId, events: &[Event]) -> mongodb::error::Result<()> {
    record_many(store, events.iter().map(|e| (org, e))).await
}

/// Records events, each in its organization's log, in one command.
pub async fn record_many<'a>(
    store: &Store,
    events: impl IntoIterator<Item = (ObjectId, &'a Event)>,
) -> mongodb::error::Result<()> {
    crate::store::audit::insert(store, events).await
}

/// Copies the events of an organization's outbox into its log.
pub async fn drain(store: &Store, org: &OrgDoc) -> mongodb::error::Result<()> {
    let events: Vec<Event> = org
        .audit_outbox
        .iter()
        .filter_map(|e| Event::from_outbox(e))
        .collect();
    record(store, org.id, &events).await
}
