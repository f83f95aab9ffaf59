//! (v3) The import's cost: `cargo bench -p tenant --bench import` (`make bench` runs it)
//! imports 1,000 Croupier organizations of 100 documents each, from a server of their
//! own into another (the copy path: one cluster would move each collection with one
//! `renameCollection` instead), and prints the time and the commands sent to the target
//! per organization. Under `cargo test` it imports 5 organizations, untimed, and checks
//! the report.

use std::time::Instant;

use mongodb::Client;
use mongodb::bson::{Bson, DateTime, Document, doc, oid::ObjectId};
use serde_json::json;
use testkit::{OwnServer, app_with};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let (orgs, docs) = if bench { (1000, 100) } else { (5, 10) };
    let source = OwnServer::start();
    let db = Client::with_uri_str(source.uri())
        .await
        .expect("source")
        .database("croupier_master");
    // One bcrypt hash for all (cost 4): the import never computes one.
    let hash = bcrypt::hash("Old-passw0rd", 4).expect("hash");
    let mut organizations = Vec::new();
    let mut admins = Vec::new();
    for i in 0..orgs {
        let id = ObjectId::new();
        let name = format!("Bench_{i:05}");
        organizations.push(doc! {
            "_id": id, "organization_name": &name, "email": format!("admin{i}@example.com"),
            "connection_details": format!("Collection: org_{name}"),
            "created_at": DateTime::now(), "updated_at": Bson::Null,
        });
        admins.push(doc! {
            "_id": ObjectId::new(), "email": format!("admin{i}@example.com"), "password": &hash,
            "organization_id": id.to_hex(), "organization_name": &name,
            "created_at": DateTime::now(), "updated_at": Bson::Null,
        });
        let items: Vec<Document> = (0..docs)
            .map(|k| doc! { "_id": ObjectId::new(), "k": k as i64, "label": "a document of the Python service" })
            .collect();
        db.collection::<Document>(&format!("org_{name}"))
            .insert_many(items)
            .await
            .expect("documents");
    }
    db.collection::<Document>("organizations")
        .insert_many(organizations)
        .await
        .expect("organizations");
    db.collection::<Document>("admin_users")
        .insert_many(admins)
        .await
        .expect("admins");
    let target = OwnServer::start();
    let app = app_with(&[("MONGODB_URI", &target.uri())]).await;
    let spec: tenant::jobs::import::Spec = serde_json::from_value(json!({
        "uri": source.uri(), "database": "croupier_master", "layout": "croupier",
    }))
    .expect("spec");
    let before = app.store.hooks().commands();
    let started = Instant::now();
    let report = tenant::jobs::import::run(&app, &spec)
        .await
        .expect("import");
    let seconds = started.elapsed().as_secs_f64();
    let commands = app.store.hooks().commands() - before;
    assert_eq!(report.organizations.imported, orgs, "{report:?}");
    assert_eq!(report.documents.copied, (orgs * docs) as u64, "{report:?}");
    if bench {
        println!(
            "import/croupier {orgs} organizations x {docs} documents (copy across servers): \
             {seconds:.1} s, {:.1} organizations/s, {:.1} commands to the target per organization",
            orgs as f64 / seconds,
            commands as f64 / orgs as f64
        );
    }
}
