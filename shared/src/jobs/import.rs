//! (v3) The import from the Python services (the `migrate` function's event
//! `{"import": {"uri"?, "database", "layout": "croupier", "dry_run"}}`).
//!
//! Croupier's layout: `organizations` `{_id, organization_name, email, created_at}`,
//! `admin_users` `{_id, email, password (bcrypt), organization_id (hex), created_at}`, and
//! each organization's documents in `org_<organization_name>` of the same database.
//!
//! Each organization keeps its id; its admin becomes its owner with the same bcrypt hash,
//! in one account per email (the earliest-created admin's id and hash; later ones are
//! reported as merged). Per organization, each step idempotent: the registry document
//! (`pending: import`, invisible until done; unique indexes decide a race for the name),
//! the account, the documents (`renameCollection` on one cluster, else a copy checked by
//! count before the source is dropped), then the mark cleared with its
//! `organization.imported` event. A run that dies midway is finished by the next one; a
//! dry run reads and changes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::{Client, Database};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::core::audit::{self, Event};
use crate::core::membership;
use crate::domain::{Email, OrganizationName, Role};
use crate::error::{ApiError, ApiResult};
use crate::store::users::{self, UserDoc};
use crate::store::{
    OrgDoc, PendingOp, Placement, Store, failpoint, is_duplicate, member_key, millis_of, registry,
    tenants,
};

/// The event's `import` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The source's connection string (default: the service's own `MONGODB_URI`).
    #[serde(default)]
    pub uri: Option<String>,
    /// The source database (Croupier's default is `croupier_master`).
    pub database: String,
    /// The source's layout: `croupier`.
    pub layout: String,
    /// Report only: nothing is written anywhere.
    #[serde(default)]
    pub dry_run: bool,
}

/// An organization that is not imported, and why.
#[derive(Debug, Serialize)]
pub struct SkippedOrg {
    /// Its name as the source stores it.
    pub organization_name: String,
    /// Why.
    pub reason: String,
}

/// An admin that is not imported, and why.
#[derive(Debug, Serialize)]
pub struct SkippedUser {
    /// The admin's email as the source stores it.
    pub email: String,
    /// Why.
    pub reason: String,
}

/// Admins of one address here, merged into one account.
#[derive(Debug, Serialize)]
pub struct Merged {
    /// The address (lowercased).
    pub email: String,
    /// The organizations of its admins (the account keeps the earliest admin's hash).
    pub organizations: Vec<String>,
}

/// A document moved as it is that the items API cannot serve as it is.
#[derive(Debug, Serialize)]
pub struct Unservable {
    /// Its organization (name here).
    pub organization_name: String,
    /// Its `_id`, as extended JSON.
    pub id: String,
    /// Why.
    pub reason: String,
}

/// The organizations' part of the report.
#[derive(Debug, Default, Serialize)]
pub struct OrgsReport {
    /// In the source.
    pub found: usize,
    /// Imported by this run (or, on a dry run, that it would import).
    pub imported: usize,
    /// Imported by an earlier run.
    pub already_imported: usize,
    /// Not imported.
    pub skipped: Vec<SkippedOrg>,
}

/// The admins' part of the report.
#[derive(Debug, Default, Serialize)]
pub struct UsersReport {
    /// Admins in the source.
    pub found: usize,
    /// Accounts made by this run (or that a dry run would make).
    pub imported: usize,
    /// Addresses of several admins, now one account.
    pub merged_accounts: Vec<Merged>,
    /// Admins not imported.
    pub skipped: Vec<SkippedUser>,
}

/// The documents' part of the report.
#[derive(Debug, Default, Serialize)]
pub struct DocsReport {
    /// Moved by `renameCollection` (or that a dry run would move).
    pub moved: u64,
    /// Copied across servers (or that a dry run would copy).
    pub copied: u64,
    /// Organizations whose collection is missing (imported with an empty one).
    pub missing_sources: Vec<String>,
    /// Documents moved as they are that the items API cannot serve as they are.
    pub unservable: Vec<Unservable>,
}

/// What an import run did (or, on a dry run, would do).
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Organizations.
    pub organizations: OrgsReport,
    /// Admins and accounts.
    pub users: UsersReport,
    /// Tenant documents.
    pub documents: DocsReport,
}

/// An admin of the source.
#[derive(Debug, Clone)]
struct Admin {
    id: ObjectId,
    raw_email: String,
    email: String,
    hash: String,
    org: String,
    created: DateTime,
}

/// An organization of the source.
#[derive(Debug, Clone)]
struct SourceOrg {
    id: ObjectId,
    raw_name: String,
    created: DateTime,
}

/// The source: its database, and whether it is on the service's own cluster.
struct Source {
    db: Database,
    same_cluster: bool,
}

fn created_of(doc: &Document) -> DateTime {
    doc.get("created_at")
        .and_then(millis_of)
        .map_or_else(DateTime::now, DateTime::from_millis)
}

async fn read(db: &Database, name: &str) -> ApiResult<Vec<Document>> {
    use futures_util::TryStreamExt;
    let cursor = db.collection::<Document>(name).find(doc! {}).await?;
    Ok(cursor.try_collect().await?)
}

/// Runs an import (see the module's doc); 422 for a spec it cannot run.
pub async fn run(app: &App, spec: &Spec) -> ApiResult<Report> {
    if spec.layout != "croupier" {
        return Err(ApiError::invalid(
            &["import", "layout"],
            "layout must be croupier",
        ));
    }
    let own = app.config.mongodb_uri.expose_secret();
    let source = match &spec.uri {
        Some(uri) if uri != own => Source {
            db: Client::with_uri_str(uri)
                .await
                .map_err(|_| {
                    ApiError::invalid(&["import", "uri"], "not a valid MongoDB connection string")
                })?
                .database(&spec.database),
            same_cluster: false,
        },
        _ => Source {
            db: app.store.database(&spec.database),
            same_cluster: true,
        },
    };
    let mut report = Report {
        dry_run: spec.dry_run,
        ..Report::default()
    };
    let mut orgs = Vec::new();
    for doc in read(&source.db, "organizations").await? {
        match (doc.get_object_id("_id"), doc.get_str("organization_name")) {
            (Ok(id), Ok(name)) => orgs.push(SourceOrg {
                id,
                raw_name: name.to_owned(),
                created: created_of(&doc),
            }),
            _ => report.organizations.skipped.push(SkippedOrg {
                organization_name: doc.get_str("organization_name").unwrap_or("").to_owned(),
                reason: "Unreadable: no ObjectId _id or no organization_name".into(),
            }),
        }
    }
    orgs.sort_by_key(|o| (o.created, o.id));
    report.organizations.found = orgs.len() + report.organizations.skipped.len();
    let admins = read_admins(&source.db, &mut report).await?;
    // One account per address: the earliest-created admin's id and hash.
    let mut by_email: HashMap<String, Vec<&Admin>> = HashMap::new();
    for admin in &admins {
        by_email.entry(admin.email.clone()).or_default().push(admin);
    }
    for group in by_email.values_mut() {
        group.sort_by_key(|a| (a.created, a.id));
    }
    // Looked up once per admin and organization: maps, not scans (an import of 100,000
    // organizations stays linear).
    let by_hex: HashMap<String, &SourceOrg> = orgs.iter().map(|o| (o.id.to_hex(), o)).collect();
    let mut admins_of: HashMap<&str, Vec<&Admin>> = HashMap::new();
    for admin in &admins {
        admins_of.entry(admin.org.as_str()).or_default().push(admin);
        if !by_hex.contains_key(&admin.org) {
            report.users.skipped.push(SkippedUser {
                email: admin.raw_email.clone(),
                reason: "No organization".into(),
            });
        }
    }
    let mut names_taken: HashSet<String> = HashSet::new();
    let mut accounts_made: HashSet<ObjectId> = HashSet::new();
    for org in &orgs {
        let own = admins_of
            .get(org.id.to_hex().as_str())
            .map_or(&[][..], Vec::as_slice);
        let plan = plan(&app.store, org, own, &by_email, &names_taken).await?;
        let (name, owner) = match plan {
            Plan::Skip(reason) => {
                report.organizations.skipped.push(SkippedOrg {
                    organization_name: org.raw_name.clone(),
                    reason,
                });
                continue;
            }
            Plan::Done => {
                report.organizations.already_imported += 1;
                continue;
            }
            Plan::Import(name, owner) => (name, owner),
        };
        names_taken.insert(name.as_str().to_owned());
        let account_new = users::by_id(&app.store, owner.id).await?.is_none()
            && !accounts_made.contains(&owner.id);
        if spec.dry_run {
            let (moved, copied) = dry_documents(&source, org, &name, &mut report).await?;
            report.documents.moved += moved;
            report.documents.copied += copied;
        } else {
            match import_org(app, &source, org, &name, owner, &mut report).await? {
                Some(reason) => {
                    report.organizations.skipped.push(SkippedOrg {
                        organization_name: org.raw_name.clone(),
                        reason,
                    });
                    continue;
                }
                None => {
                    tracing::info!(org_id = %org.id, name = name.as_str(), "organization imported")
                }
            }
        }
        report.organizations.imported += 1;
        if account_new {
            accounts_made.insert(owner.id);
            report.users.imported += 1;
        }
    }
    for (email, group) in &by_email {
        if group.len() > 1 {
            let mut organizations: Vec<String> = group
                .iter()
                .filter_map(|a| by_hex.get(&a.org))
                .map(|o| o.raw_name.to_lowercase())
                .collect();
            organizations.sort();
            report.users.merged_accounts.push(Merged {
                email: email.clone(),
                organizations,
            });
        }
    }
    report
        .users
        .merged_accounts
        .sort_by(|a, b| a.email.cmp(&b.email));
    Ok(report)
}

/// The source's admins; those this service cannot take (address, hash) are reported.
async fn read_admins(db: &Database, report: &mut Report) -> ApiResult<Vec<Admin>> {
    let mut admins = Vec::new();
    for doc in read(db, "admin_users").await? {
        report.users.found += 1;
        let raw_email = doc.get_str("email").unwrap_or("").to_owned();
        let skip = |reason: &str| SkippedUser {
            email: raw_email.clone(),
            reason: reason.into(),
        };
        let (Ok(id), Ok(hash), Ok(org)) = (
            doc.get_object_id("_id"),
            doc.get_str("password"),
            doc.get_str("organization_id"),
        ) else {
            report.users.skipped.push(skip(
                "Unreadable: no ObjectId _id, password or organization_id",
            ));
            continue;
        };
        let email = match Email::parse(&raw_email.to_lowercase()) {
            Ok(email) => email.as_str().to_owned(),
            Err(why) => {
                report
                    .users
                    .skipped
                    .push(skip(&format!("Invalid email: {why}")));
                continue;
            }
        };
        if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) || hash.len() != 60 {
            report
                .users
                .skipped
                .push(skip("Password is not a bcrypt hash"));
            continue;
        }
        admins.push(Admin {
            id,
            raw_email: raw_email.clone(),
            email,
            hash: hash.to_owned(),
            org: org.to_owned(),
            created: created_of(&doc),
        });
    }
    Ok(admins)
}

/// What becomes of one source organization.
enum Plan<'a> {
    /// Not imported, for this reason.
    Skip(String),
    /// Imported by an earlier run.
    Done,
    /// To import under this name, owned by the account of this admin (its address's
    /// earliest).
    Import(OrganizationName, &'a Admin),
}

async fn plan<'a>(
    store: &Store,
    org: &SourceOrg,
    own: &[&Admin],
    by_email: &HashMap<String, Vec<&'a Admin>>,
    names_taken: &HashSet<String>,
) -> ApiResult<Plan<'a>> {
    let skip = |reason: String| Ok(Plan::Skip(reason));
    if let Some(here) = registry::by_id(store, org.id).await?
        && here.pending_op() != Some(PendingOp::Import)
    {
        return Ok(Plan::Done);
    }
    let name = match OrganizationName::parse(&org.raw_name.to_lowercase()) {
        Ok(name) => name,
        Err(why) => return skip(format!("Invalid name: {why}")),
    };
    let admin = match own {
        [] => return skip("No admin".into()),
        [one] => *one,
        _ => return skip(format!("{} admins; one was expected", own.len())),
    };
    if names_taken.contains(name.as_str()) {
        return skip("Name taken by another organization of the import".into());
    }
    if let Some(holder) = registry::by_name(store, name.as_str()).await?
        && holder.id != org.id
    {
        return skip("Name taken here".into());
    }
    let Some(owner) = by_email.get(&admin.email).and_then(|g| g.first().copied()) else {
        return skip("No admin".into());
    };
    if let Some(account) = users::by_email(store, &owner.email).await?
        && account.id != owner.id
    {
        return skip(format!("Email '{}' taken by another account", owner.email));
    }
    Ok(Plan::Import(name, owner))
}

/// Imports one organization (or finishes a run cut short): `Some(reason)` when a race
/// took its name or its owner's address meanwhile (nothing of it is left then).
async fn import_org(
    app: &App,
    source: &Source,
    org: &SourceOrg,
    name: &OrganizationName,
    owner: &Admin,
    report: &mut Report,
) -> ApiResult<Option<String>> {
    let store = &app.store;
    let member = membership::new_member(Role::Owner, &owner.email, false, org.created);
    let members: BTreeMap<String, _> = [(member_key(owner.id), member.clone())].into();
    let doc = OrgDoc::founded(
        (
            org.id,
            name.as_str(),
            store.placement_for(&name.collection_name()),
        ),
        (owner.id, member.clone()),
        org.created,
        PendingOp::Import,
    );
    match registry::insert(store, &doc).await {
        Ok(()) => {}
        Err(e) if is_duplicate(&e) => {
            if registry::by_id(store, org.id).await?.is_none() {
                return Ok(Some("Name taken here".into()));
            }
        }
        Err(e) => return Err(e.into()),
    }
    failpoint!(store, "import.after_registry");
    if !bring_account(store, org.id, owner).await? {
        registry::remove(store, org.id).await?;
        return Ok(Some(format!(
            "Email '{}' taken by another account",
            owner.email
        )));
    }
    failpoint!(store, "import.after_account");
    move_documents(store, source, org, &doc.placement, name, report).await?;
    failpoint!(store, "import.after_documents");
    let event = Event::of_job("import", "organization.imported", org.id, name.as_str())
        .meta("source_database", source.db.name())
        .meta("source_name", org.raw_name.as_str())
        .to_outbox();
    let done =
        registry::complete_arrival(store, org.id, PendingOp::Import, &members, &event).await?;
    if let Some(done) = done {
        audit::drain(store, &done).await?;
    }
    Ok(None)
}

/// The owner's account, with the organization in its list: made with the admin's id
/// and hash, or found (a run before this one, or another organization of the address,
/// made it). False when another account took the address meanwhile.
async fn bring_account(store: &Store, org: ObjectId, owner: &Admin) -> ApiResult<bool> {
    if users::by_id(store, owner.id).await?.is_none() {
        let account = UserDoc {
            id: owner.id,
            email: owner.email.clone(),
            password_hash: owner.hash.clone(),
            orgs: vec![org],
            created_at: owner.created,
            email_sync: false,
            email_event: None,
            email_verified: false,
            pending_email: None,
            password_event: None,
        };
        match users::insert(store, &account).await {
            Ok(()) => return Ok(true),
            Err(e) if is_duplicate(&e) => {
                if users::by_id(store, owner.id).await?.is_none() {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    users::add_org(store, owner.id, org).await?;
    Ok(true)
}

/// Why the items API cannot serve a document as it is, if it cannot.
fn unservable(doc: &Document) -> Option<String> {
    if doc.get_object_id("_id").is_err() {
        return Some("Its _id is not an ObjectId".into());
    }
    fn walk(value: &Bson) -> Option<String> {
        match value {
            Bson::Document(d) => d.iter().find_map(|(k, v)| {
                if k.starts_with('$') {
                    Some(format!("A field name starts with $: {k}"))
                } else {
                    walk(v)
                }
            }),
            Bson::Array(items) => items.iter().find_map(walk),
            Bson::Double(f) if !f.is_finite() => Some("A number is not finite".into()),
            _ => None,
        }
    }
    doc.iter()
        .filter(|(k, _)| k.as_str() != "_id")
        .find_map(|(k, v)| {
            if k.starts_with('$') {
                Some(format!("A field name starts with $: {k}"))
            } else {
                walk(v)
            }
        })
}

/// Notes each document the items API cannot serve.
fn inspector<'r>(report: &'r mut Report, name: &'r OrganizationName) -> impl FnMut(&Document) + 'r {
    move |doc: &Document| {
        if let Some(reason) = unservable(doc) {
            report.documents.unservable.push(Unservable {
                organization_name: name.as_str().to_owned(),
                id: doc.get("_id").map_or_else(String::new, |v| {
                    v.clone().into_relaxed_extjson().to_string()
                }),
                reason,
            });
        }
    }
}

/// Moves an organization's documents into its collection here: `renameCollection` on
/// one cluster (the admin command, across databases), else (or when the server refuses)
/// a copy checked by count before the source is dropped. Nothing left to move (a run
/// before moved them) is no error; a missing source gives an empty collection.
async fn move_documents(
    store: &Store,
    source: &Source,
    org: &SourceOrg,
    place: &Placement,
    name: &OrganizationName,
    report: &mut Report,
) -> ApiResult<()> {
    let from = format!("org_{}", org.raw_name);
    let source_coll = source.db.collection::<Document>(&from);
    let target = store.collection(&place.database, &place.collection);
    let there = exists(&source.db, &from).await?;
    if !there || same_storage(source, &from, place).await? {
        if !tenants::exists(store, &place.database, &place.collection).await? {
            tenants::create(store, &place.database, &place.collection).await?;
            if !there {
                report
                    .documents
                    .missing_sources
                    .push(name.as_str().to_owned());
            }
        }
        return Ok(());
    }
    if source.same_cluster && !tenants::exists(store, &place.database, &place.collection).await? {
        // Checked first: a rename moves the documents without reading them.
        let count = inspect_all(&source_coll, inspector(report, name)).await?;
        let renamed = store
            .database("admin")
            .run_command(doc! {
                "renameCollection": format!("{}.{from}", source.db.name()),
                "to": format!("{}.{}", place.database, place.collection),
                "dropTarget": false,
            })
            .await;
        if renamed.is_ok() && !exists(&source.db, &from).await? {
            report.documents.moved += count;
            return Ok(());
        }
        report
            .documents
            .unservable
            .retain(|u| u.organization_name != name.as_str());
    }
    let copied = tenants::copy_between(&source_coll, &target, inspector(report, name)).await?;
    report.documents.copied += copied;
    Ok(())
}

/// Shows every document of `coll` to `inspect`, one at a time: how many there are.
async fn inspect_all(
    coll: &mongodb::Collection<Document>,
    mut inspect: impl FnMut(&Document),
) -> ApiResult<u64> {
    use futures_util::TryStreamExt;
    let mut cursor = coll.find(doc! {}).await?;
    let mut n = 0;
    while let Some(doc) = cursor.try_next().await? {
        inspect(&doc);
        n += 1;
    }
    Ok(n)
}

/// Whether a collection exists in `db`.
async fn exists(db: &Database, name: &str) -> ApiResult<bool> {
    let names = db
        .list_collection_names()
        .filter(doc! { "name": name })
        .await?;
    Ok(names.iter().any(|n| n == name))
}

/// Whether the source collection and the target are one collection (a server that
/// maps every database to one namespace, names compared in any case): a document
/// written to one shows in the other. Then there is nothing to move.
async fn same_storage(source: &Source, from: &str, place: &Placement) -> ApiResult<bool> {
    if !source.same_cluster || !from.eq_ignore_ascii_case(&place.collection) {
        return Ok(false);
    }
    let probe = ObjectId::new();
    let target = source
        .db
        .client()
        .database(&place.database)
        .collection::<Document>(&place.collection);
    target
        .insert_one(doc! { "_id": probe, "import_probe": true })
        .await?;
    let seen = source
        .db
        .collection::<Document>(from)
        .find_one(doc! { "_id": probe })
        .await?
        .is_some();
    target.delete_one(doc! { "_id": probe }).await?;
    if !seen && target.find_one(doc! {}).await?.is_none() {
        // The probe made it: gone again, so that a rename can take its place.
        target.drop().await?;
    }
    Ok(seen)
}

/// A dry run's documents: what would move (one cluster) or be copied, and what the items
/// API could not serve; nothing is written.
async fn dry_documents(
    source: &Source,
    org: &SourceOrg,
    name: &OrganizationName,
    report: &mut Report,
) -> ApiResult<(u64, u64)> {
    let from = format!("org_{}", org.raw_name);
    if !exists(&source.db, &from).await? {
        report
            .documents
            .missing_sources
            .push(name.as_str().to_owned());
        return Ok((0, 0));
    }
    let source_coll = source.db.collection::<Document>(&from);
    let n = inspect_all(&source_coll, inspector(report, name)).await?;
    Ok(if source.same_cluster { (n, 0) } else { (0, n) })
}
