//! (v3) The import from the Python service (Croupier's layout), on servers of their own:
//! the source is written with the driver as Croupier writes it, the target is a fresh
//! server (so that whole dumps can be compared), and everything is checked through the
//! API: every admin logs in with the old password, every document reads with its fields.

use futures_util::TryStreamExt;
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use mongodb::{Client, Database};
use serde_json::{Value, json};
use tenant::App;
use tenant::hooks::Fault;
use tenant::jobs::import::{self, Report, Spec};
use tenant::routes::{items, sessions};

use crate::common::*;

const OLD: &str = "Old-passw0rd";
const OTHER: &str = "Other-passw0rd";

/// A bcrypt hash of `password` at `cost`, with the version prefix `version`.
fn hash(password: &str, cost: u32, version: &str) -> String {
    let h = bcrypt::hash(password, cost).unwrap();
    format!("{version}{}", &h[4..])
}

/// The names of one fixture (unique, so that runs on one target never meet).
struct Names {
    acme: String,
    beta: String,
    gamma: String,
    taken: String,
    delta: String,
    lonely: String,
    missing: String,
    ann: String,
    gamma_admin: String,
    delta_admin: String,
}

impl Names {
    fn new() -> Self {
        let u = unique("");
        Self {
            acme: format!("Acme_{u}"),
            beta: format!("BetaTeam_{u}"),
            gamma: format!("gamma_{u}"),
            taken: format!("taken_{u}"),
            delta: format!("delta_{u}"),
            lonely: format!("lonely_{u}"),
            missing: format!("Missing_{u}"),
            ann: format!("ann{u}@example.com"),
            gamma_admin: format!("gamma{u}@example.com"),
            delta_admin: format!("delta{u}@example.com"),
        }
    }
}

fn at(seconds: i64) -> DateTime {
    DateTime::from_millis(1_700_000_000_000 + seconds * 1000)
}

/// Writes Croupier's collections into `db`, as Croupier writes them: (name, admin email,
/// admin hash, documents) per organization, a few odd ones around them.
async fn seed(db: &Database, n: &Names) {
    let orgs = db.collection::<Document>("organizations");
    let admins = db.collection::<Document>("admin_users");
    let mixed = n.ann.replacen("ann", "Ann", 1);
    let fixtures: Vec<(&str, Option<String>, String, usize)> = vec![
        (&n.acme, Some(n.ann.clone()), hash(OLD, 4, "$2b$"), 300),
        // The same address with another case in the local part: one account here.
        (&n.beta, Some(mixed), hash(OTHER, 4, "$2b$"), 20),
        (
            &n.gamma,
            Some(n.gamma_admin.clone()),
            hash(OLD, 10, "$2a$"),
            5,
        ),
        (
            &n.taken,
            Some(format!("t{}", n.ann)),
            hash(OLD, 4, "$2b$"),
            1,
        ),
        (
            &n.delta,
            Some(n.delta_admin.clone()),
            hash(OLD, 4, "$2b$"),
            1,
        ),
        (&n.lonely, None, String::new(), 0),
        // A `$2y$` hash (PHP's name for the same algorithm) verifies too.
        (
            &n.missing,
            Some(format!("m{}", n.ann)),
            hash(OLD, 4, "$2y$"),
            0,
        ),
        (
            "no spaces allowed",
            Some(format!("s{}", n.ann)),
            hash(OLD, 4, "$2b$"),
            0,
        ),
    ];
    for (i, (name, admin, password, docs)) in fixtures.into_iter().enumerate() {
        let id = ObjectId::new();
        orgs.insert_one(doc! {
            "_id": id, "organization_name": name, "email": admin.clone().unwrap_or_default(),
            "connection_details": format!("Collection: org_{name}"),
            "created_at": at(i as i64), "updated_at": Bson::Null,
        })
        .await
        .unwrap();
        if let Some(email) = admin {
            admins
                .insert_one(doc! {
                    "_id": ObjectId::new(), "email": email, "password": password,
                    "organization_id": id.to_hex(), "organization_name": name,
                    "created_at": at(i as i64), "updated_at": Bson::Null,
                })
                .await
                .unwrap();
        }
        if docs > 0 || name != n.missing {
            let coll = db.collection::<Document>(&format!("org_{name}"));
            let mut batch: Vec<Document> = (0..docs)
                .map(|k| doc! { "_id": ObjectId::new(), "n": k as i64, "label": format!("doc {k}"), "tags": ["a", "b"] })
                .collect();
            if name == n.acme {
                // One the items API cannot serve as it is: moved, and reported.
                batch.push(doc! { "_id": "not-an-object-id", "n": -1_i64 });
            }
            if !batch.is_empty() {
                coll.insert_many(batch).await.unwrap();
            }
        }
    }
    // An admin whose organization is gone.
    admins
        .insert_one(doc! {
            "_id": ObjectId::new(), "email": format!("orphan{}", n.ann), "password": hash(OLD, 4, "$2b$"),
            "organization_id": ObjectId::new().to_hex(), "organization_name": "gone",
            "created_at": at(9), "updated_at": Bson::Null,
        })
        .await
        .unwrap();
}

/// An app on a server of its own, with a name and an account already taken there.
async fn target(n: &Names) -> (App, OwnServer) {
    let server = OwnServer::start();
    let app = app_with(&[("MONGODB_URI", &server.uri())]).await;
    let taken = create_org(
        &app,
        create_body(&n.taken, &format!("x{}", n.ann), PASSWORD),
    )
    .await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    let other = create_org(&app, create_body(&unique("o"), &n.delta_admin, PASSWORD)).await;
    assert_eq!(other.status, 201, "{}", other.text);
    (app, server)
}

fn spec(source: &OwnServer, dry_run: bool) -> Spec {
    serde_json::from_value(json!({
        "uri": source.uri(), "database": "croupier_master", "layout": "croupier",
        "dry_run": dry_run,
    }))
    .unwrap()
}

async fn source_db(server: &OwnServer) -> Database {
    Client::with_uri_str(server.uri())
        .await
        .unwrap()
        .database("croupier_master")
}

/// Logs in to organization `org` (its name here): the token.
async fn login_to(app: &App, email: &str, password: &str, org: &str) -> Res {
    let body = json!({ "email": email, "password": password, "organization_name": org });
    call(app, sessions::login, &Req::post("/admin/login", body)).await
}

/// Every item of the token's organization, page after page.
async fn all_items(app: &App, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut req = Req::get("/org/items").query("limit", "100").token(token);
        if let Some(a) = &after {
            req = req.query("after", a);
        }
        let res = call(app, items::list, &req).await;
        assert_eq!(res.status, 200, "{}", res.text);
        all.extend(res.body["items"].as_array().unwrap().iter().cloned());
        match res.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return all,
        }
    }
}

fn skipped(report: &Report) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = report
        .organizations
        .skipped
        .iter()
        .map(|k| (k.organization_name.clone(), k.reason.clone()))
        .collect();
    s.sort();
    s
}

/// What a finished import must look like, whichever runs it took.
async fn assert_imported(app: &App, n: &Names) {
    let acme = n.acme.to_lowercase();
    let token = login_to(app, &n.ann, OLD, &acme).await;
    assert_eq!(token.status, 200, "{}", token.text);
    let token = token.body["access_token"].as_str().unwrap().to_owned();
    let docs = all_items(app, &token).await;
    assert_eq!(docs.len(), 300, "every document of the valid ids reads");
    let mut ns: Vec<i64> = docs
        .iter()
        .map(|d| d["data"]["n"].as_i64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, (0..300).collect::<Vec<i64>>());
    assert_eq!(docs[0]["data"]["tags"], json!(["a", "b"]));
    assert!(
        docs[0]["data"]["label"]
            .as_str()
            .unwrap()
            .starts_with("doc ")
    );
    // Merged: the same account, the earliest admin's password, in both.
    let beta = n.beta.to_lowercase();
    assert_eq!(login_to(app, &n.ann, OLD, &beta).await.status, 200);
    assert_eq!(login_to(app, &n.ann, OTHER, &beta).await.status, 401);
    // A `$2a$` hash of cost 10 verifies, and is re-hashed at the login.
    assert_eq!(
        login_to(app, &n.gamma_admin, OLD, &n.gamma).await.status,
        200
    );
    let account = account(app, &n.gamma_admin).await.unwrap();
    assert!(
        account
            .get_str("password_hash")
            .unwrap()
            .starts_with("$2b$04$")
    );
    // The missing source: imported with an empty collection.
    let missing = login_to(app, &format!("m{}", n.ann), OLD, &n.missing.to_lowercase()).await;
    let token = missing.body["access_token"].as_str().unwrap().to_owned();
    assert!(all_items(app, &token).await.is_empty());
}

#[tokio::test]
async fn an_import_brings_every_organization_admin_and_document_and_reports_each_skip() {
    let n = Names::new();
    let source = OwnServer::start();
    seed(&source_db(&source).await, &n).await;
    let (app, _target) = target(&n).await;
    let report = import::run(&app, &spec(&source, false)).await.unwrap();
    assert_eq!(report.organizations.found, 8);
    assert_eq!(report.organizations.imported, 4, "{report:?}");
    let lonely = n.lonely.clone();
    assert_eq!(
        skipped(&report),
        vec![
            (
                n.delta.clone(),
                format!("Email '{}' taken by another account", n.delta_admin)
            ),
            (lonely, "No admin".into()),
            ("no spaces allowed".into(), skipped(&report)[2].1.clone()),
            (n.taken.clone(), "Name taken here".into()),
        ]
    );
    assert!(skipped(&report)[2].1.starts_with("Invalid name"));
    assert_eq!(report.users.found, 8);
    assert_eq!(report.users.imported, 3, "ann (merged), gamma, missing");
    assert_eq!(report.users.merged_accounts.len(), 1);
    assert_eq!(report.users.merged_accounts[0].email, n.ann);
    assert_eq!(report.users.skipped.len(), 1, "{:?}", report.users.skipped);
    assert_eq!(report.users.skipped[0].reason, "No organization");
    assert_eq!(report.documents.copied, 300 + 1 + 20 + 5);
    assert_eq!(
        report.documents.missing_sources,
        vec![n.missing.to_lowercase()]
    );
    assert_eq!(report.documents.unservable.len(), 1);
    assert_eq!(
        report.documents.unservable[0].reason,
        "Its _id is not an ObjectId"
    );
    assert_imported(&app, &n).await;
    // The sources are gone once copied (and counted); the skipped ones stay.
    let names = source_db(&source)
        .await
        .list_collection_names()
        .await
        .unwrap();
    assert!(!names.contains(&format!("org_{}", n.acme)), "{names:?}");
    assert!(names.contains(&format!("org_{}", n.taken)), "{names:?}");
    // Again: nothing more to do.
    let again = import::run(&app, &spec(&source, false)).await.unwrap();
    assert_eq!(again.organizations.imported, 0);
    assert_eq!(again.organizations.already_imported, 4);
    let log = login_to(&app, &n.ann, OLD, &n.acme.to_lowercase()).await;
    let token = log.body["access_token"].as_str().unwrap();
    let audit = call(
        &app,
        tenant::routes::audit::list,
        &Req::get("/org/audit").token(token),
    )
    .await;
    assert!(
        audit.text.contains("organization.imported"),
        "{}",
        audit.text
    );
}

/// Every document of every collection of every database of a server, in order.
async fn dump(uri: &str) -> Vec<(String, String, Vec<Document>)> {
    let client = Client::with_uri_str(uri).await.unwrap();
    let mut all = Vec::new();
    let mut dbs = client.list_database_names().await.unwrap();
    dbs.sort();
    for db in dbs {
        let mut colls = client.database(&db).list_collection_names().await.unwrap();
        colls.sort();
        for coll in colls {
            let docs: Vec<Document> = client
                .database(&db)
                .collection::<Document>(&coll)
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            all.push((db.clone(), coll, docs));
        }
    }
    all
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_reports_in_full() {
    let n = Names::new();
    let source = OwnServer::start();
    seed(&source_db(&source).await, &n).await;
    let (app, target) = target(&n).await;
    let before = (dump(&source.uri()).await, dump(&target.uri()).await);
    let report = import::run(&app, &spec(&source, true)).await.unwrap();
    let after = (dump(&source.uri()).await, dump(&target.uri()).await);
    assert!(before == after, "a dry run wrote something");
    assert!(report.dry_run);
    assert_eq!(report.organizations.imported, 4);
    assert_eq!(skipped(&report).len(), 4);
    assert_eq!(report.users.imported, 3);
    assert_eq!(report.documents.copied, 326);
    assert_eq!(report.documents.missing_sources.len(), 1);
}

#[tokio::test]
async fn an_import_killed_at_each_step_is_finished_by_the_next_run() {
    let source = OwnServer::start();
    let db = source_db(&source).await;
    for failpoint in [
        "import.after_registry",
        "import.after_account",
        "import.after_documents",
    ] {
        let n = Names::new();
        for coll in db.list_collection_names().await.unwrap() {
            db.collection::<Document>(&coll).drop().await.unwrap();
        }
        seed(&db, &n).await;
        let (app, _target) = target(&n).await;
        app.store.hooks().arm(failpoint, Fault::Unavailable);
        assert!(
            import::run(&app, &spec(&source, false)).await.is_err(),
            "{failpoint}"
        );
        app.store.hooks().clear();
        // Cut short: not visible yet.
        let res = login_to(&app, &n.ann, OLD, &n.acme.to_lowercase()).await;
        assert_ne!(res.status, 200, "{failpoint}: half imported, usable");
        let report = import::run(&app, &spec(&source, false)).await.unwrap();
        assert_eq!(
            report.organizations.imported + report.organizations.already_imported,
            4,
            "{failpoint}: {report:?}"
        );
        assert_eq!(skipped(&report).len(), 4, "{failpoint}");
        assert_imported(&app, &n).await;
    }
}
