//! (v3) How each route's cost grows with the data: `make scale` runs
//! `cargo bench -p tenant --bench scale -- --bench` and plots what it writes.
//!
//! Each dimension is seeded straight into a local server of its own with the driver, in
//! bulk (never through the API): organizations in the registry (1, 1,000, 100,000),
//! members of one organization (1, 100, 10,000, embedded in its document as the service
//! keeps them), audit events of one organization (1,000 and 1,000,000), items of one
//! tenant (1,000 and 1,000,000), and a rename of that tenant at each size. Then each
//! route is called in process, on a single-threaded runtime as a Lambda instance runs
//! it, and measured per request: CPU time of the process, bytes of the server's replies
//! and commands sent (the driver's command monitor: neither depends on the server's
//! speed), the median wall time, and the process's peak RSS while the route ran (its
//! high-water mark reset first). Rows go to stdout and, as JSON, to `SCALE_OUT`
//! (default `target/scale.json`), which `scripts/scale.py` turns into plots.
//!
//! Under `cargo test` the sizes are small, and the run checks that every route sends
//! the same number of commands at each size.

use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId, to_document};
use serde::Serialize;
use serde_json::json;
use tenant::App;
use tenant::domain::Role;
use tenant::http::Handler;
use tenant::routes::{api_keys, audit, items, members, operator, organizations, sessions};
use tenant::store::{Member, member_key};
use testkit::{OwnServer, Req, app_with, call, login_req, registry, sample_org, signup};

/// Requests per route and size.
const CALLS: usize = 15;
/// Documents per insert command while seeding.
const BATCH: usize = 10_000;

/// One route at one size.
#[derive(Debug, Serialize)]
struct Row {
    dimension: &'static str,
    size: u64,
    route: &'static str,
    commands: f64,
    reply_bytes: f64,
    cpu_us: f64,
    p50_ms: f64,
    peak_rss_kib: u64,
    status: u16,
}

/// The process's peak RSS since the last [`reset_peak`], in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Gives the heap freed since (the seeding's buffers) back to the system, then resets
/// the peak RSS to the current RSS (Linux: `clear_refs` 5), so that the peak that
/// follows is the route's.
fn reset_peak() {
    // SAFETY: malloc_trim only releases free memory of glibc's allocator.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Serves each of `reqs` with `handler` (one after another, [`CALLS`] in all, cycling)
/// and records the costs per request.
async fn measure<H>(
    app: &App,
    (dimension, size, route): (&'static str, u64, &'static str),
    handler: H,
    reqs: &[Req],
) -> Row
where
    H: for<'a> Handler<'a> + Sync + Copy,
{
    let hooks = app.store.hooks();
    let (commands, bytes) = (hooks.commands(), hooks.reply_bytes());
    let mut times = Vec::with_capacity(CALLS);
    let mut status = 0;
    reset_peak();
    let cpu = ProcessTime::now();
    for req in reqs.iter().cycle().take(CALLS) {
        let started = Instant::now();
        status = call(app, handler, req).await.status.as_u16();
        times.push(started.elapsed());
    }
    let cpu = cpu.elapsed();
    times.sort();
    let n = CALLS as f64;
    let row = Row {
        dimension,
        size,
        route,
        commands: (hooks.commands() - commands) as f64 / n,
        reply_bytes: (hooks.reply_bytes() - bytes) as f64 / n,
        cpu_us: cpu.as_secs_f64() * 1e6 / n,
        p50_ms: times[CALLS / 2].as_secs_f64() * 1e3,
        peak_rss_kib: peak_rss_kib(),
        status,
    };
    row.print();
    row
}

impl Row {
    /// One line of the run's output.
    fn print(&self) {
        println!(
            "{:<9} {:>9} {:<30} {:>6.1} cmd {:>11.0} B {:>9.0} us cpu {:>9.2} ms p50 {:>7} KiB  {}",
            self.dimension,
            self.size,
            self.route,
            self.commands,
            self.reply_bytes,
            self.cpu_us,
            self.p50_ms,
            self.peak_rss_kib,
            self.status
        );
    }
}

/// Inserts `docs` in batches of [`BATCH`].
async fn seed(coll: &mongodb::Collection<Document>, docs: impl Iterator<Item = Document>) {
    let mut batch = Vec::with_capacity(BATCH);
    for d in docs {
        batch.push(d);
        if batch.len() == BATCH {
            coll.insert_many(std::mem::take(&mut batch))
                .await
                .expect("seed");
        }
    }
    if !batch.is_empty() {
        coll.insert_many(batch).await.expect("seed");
    }
}

/// A fresh server and an app on it.
async fn fresh() -> (OwnServer, App) {
    let server = OwnServer::start();
    let app = app_with(&[("MONGODB_URI", &server.uri())]).await;
    (server, app)
}

/// Organizations in the registry: the routes of one of them, the login, the operator list.
async fn organizations(sizes: &[u64], rows: &mut Vec<Row>) {
    let (_server, app) = fresh().await;
    let o = signup(&app).await;
    let coll = registry(&app).clone_with_type::<Document>();
    let database = app.store.placement_for("x").database;
    let mut have = 1;
    for &size in sizes {
        let docs = (have..size).map(|i| {
            let org = sample_org(&format!("seed{i:07}"), &database, DateTime::now());
            to_document(&org).expect("bson")
        });
        seed(&coll, docs).await;
        have = have.max(size);
        let at = |route| ("orgs", size, route);
        let me = Req::get("/org/me").token(&o.token);
        let get = Req::get("/org/get").query("organization_name", &o.name);
        let page = Req::get("/org/items").query("limit", "5").token(&o.token);
        let ops = Req::get("/operator/organizations")
            .query("limit", "50")
            .iam("arn:aws:iam::123456789012:user/ops");
        let by_name = ops.clone().query("order", "name");
        rows.push(measure(&app, at("GET /org/get"), organizations::get, &[get]).await);
        rows.push(measure(&app, at("GET /org/me"), organizations::me, &[me]).await);
        rows.push(measure(&app, at("GET /org/items"), items::list, &[page]).await);
        let login = login_req(&o.email, testkit::PASSWORD);
        rows.push(measure(&app, at("POST /admin/login"), sessions::login, &[login]).await);
        rows.push(
            measure(
                &app,
                at("GET /operator/organizations"),
                operator::list,
                &[ops],
            )
            .await,
        );
        let at = at("GET /operator/orgs?order=name");
        rows.push(measure(&app, at, operator::list, &[by_name]).await);
    }
}

/// Members of one organization, embedded in its document.
async fn members(sizes: &[u64], rows: &mut Vec<Row>) {
    let (_server, app) = fresh().await;
    let o = signup(&app).await;
    let made = Req::post(
        "/org/api-keys",
        json!({ "name": "bench", "role": "member" }),
    );
    let made = call(&app, api_keys::create, &made.token(&o.token)).await;
    let key = made.body["key"].as_str().expect("an API key").to_owned();
    // A full page of items from the start, so that only the members change.
    for n in 0..5 {
        testkit::add_item(&app, &o.token, json!({ "n": n })).await;
    }
    let mut have = 1;
    let mut some = None;
    for &size in sizes {
        let mut set = Document::new();
        for i in have..size {
            let user = ObjectId::new();
            some.get_or_insert(user);
            let member = Member {
                role: Role::Member,
                ver: 0,
                joined_at: DateTime::now(),
                email: format!("member{i:06}@example.com"),
                verified: false,
            };
            set.insert(
                format!("members.{}", member_key(user)),
                to_document(&member).expect("bson"),
            );
        }
        set.insert("member_count", size as i64);
        registry(&app)
            .update_one(doc! { "name": &o.name }, doc! { "$set": set })
            .await
            .expect("members");
        have = have.max(size);
        let at = |route| ("members", size, route);
        let me = Req::get("/org/me").token(&o.token);
        let page = Req::get("/org/items").query("limit", "5").token(&o.token);
        let list = Req::get("/org/members")
            .query("limit", "20")
            .token(&o.token);
        let item = Req::post("/org/items", json!({ "n": 1 })).token(&o.token);
        rows.push(measure(&app, at("GET /org/me"), organizations::me, &[me]).await);
        rows.push(measure(&app, at("GET /org/items"), items::list, &[page]).await);
        let by_key = Req::get("/org/items").query("limit", "5").token(&key);
        let at_key = at("GET /org/items (API key)");
        rows.push(measure(&app, at_key, items::list, &[by_key]).await);
        rows.push(measure(&app, at("GET /org/members"), members::list, &[list]).await);
        rows.push(measure(&app, at("POST /org/items"), items::create, &[item]).await);
        if let Some(user) = some {
            let roles: Vec<Req> = ["admin", "member"]
                .iter()
                .map(|r| {
                    Req::patch("/org/members/x", json!({ "role": r }))
                        .param("user_id", &user.to_hex())
                        .token(&o.token)
                })
                .collect();
            let at = at("PATCH /org/members/{id}");
            rows.push(measure(&app, at, members::change_role, &roles).await);
        }
    }
}

/// Audit events of one organization.
async fn audit_events(sizes: &[u64], rows: &mut Vec<Row>) {
    let (_server, app) = fresh().await;
    let o = signup(&app).await;
    let coll = app
        .store
        .databases()
        .0
        .collection::<Document>("audit_events");
    let mut template = coll
        .find_one(doc! { "organization_id": &o.id })
        .await
        .expect("read")
        .expect("the create's event");
    template.remove("stream_pending");
    let now = DateTime::now().timestamp_millis();
    let mut have = 0;
    for &size in sizes {
        let docs = (have..size).map(|i| {
            let id = format!("{:032x}", rand_id(i));
            let mut d = template.clone();
            d.insert("_id", format!("{id}:{}", o.id));
            d.insert("event_id", id);
            d.insert("action", "item.created");
            d.insert("occurred_ms", now - 1000 - i as i64);
            d.insert("occurred_at", DateTime::from_millis(now - 1000 - i as i64));
            d
        });
        seed(&coll, docs).await;
        have = have.max(size);
        let at = |route| ("audit", size, route);
        let page = Req::get("/org/audit").query("limit", "50").token(&o.token);
        let rare = page.clone().query("action", "organization.created");
        let csv = page.clone().query("format", "csv");
        rows.push(measure(&app, at("GET /org/audit"), audit::list, &[page]).await);
        let at_rare = at("GET /org/audit?action=(rare)");
        rows.push(measure(&app, at_rare, audit::list, &[rare]).await);
        rows.push(measure(&app, at("GET /org/audit?format=csv"), audit::list, &[csv]).await);
    }
}

/// A deterministic 128-bit id per index (audit event ids are hex of 16 bytes).
fn rand_id(i: u64) -> u128 {
    (u128::from(i) << 64) | u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Items of one tenant, and a rename of it at each size.
async fn items_and_rename(sizes: &[u64], rows: &mut Vec<Row>) {
    let (_server, app) = fresh().await;
    let o = signup(&app).await;
    let mut have = 0;
    let mut name = o.name.clone();
    for &size in sizes {
        let org = registry(&app)
            .find_one(doc! { "_id": ObjectId::parse_str(&o.id).expect("id") })
            .await
            .expect("read")
            .expect("org");
        let coll = testkit::tenant_collection(&app, &org.placement);
        let ids: Vec<ObjectId> = (have..size).map(|_| ObjectId::new()).collect();
        let docs = ids.iter().map(|id| {
            doc! { "_id": id, "organization_id": &o.id, "data": { "name": "widget", "qty": 3 }, "created_at": DateTime::now() }
        });
        seed(&coll, docs).await;
        have = have.max(size);
        let middle = ids
            .get(ids.len() / 2)
            .copied()
            .unwrap_or_else(ObjectId::new);
        let at = |route| ("items", size, route);
        let page = Req::get("/org/items").query("limit", "20").token(&o.token);
        let later = page.clone().query("after", &middle.to_hex());
        let one = Req::get("/org/items/x")
            .param("id", &middle.to_hex())
            .token(&o.token);
        let add = Req::post("/org/items", json!({ "name": "widget" })).token(&o.token);
        let gone: Vec<Req> = ids
            .iter()
            .rev()
            .take(CALLS)
            .map(|id| {
                Req::delete("/org/items/x")
                    .param("id", &id.to_hex())
                    .token(&o.token)
            })
            .collect();
        rows.push(measure(&app, at("GET /org/items"), items::list, &[page]).await);
        rows.push(
            measure(
                &app,
                at("GET /org/items?after=(middle)"),
                items::list,
                &[later],
            )
            .await,
        );
        rows.push(measure(&app, at("GET /org/items/{id}"), items::get, &[one]).await);
        rows.push(measure(&app, at("POST /org/items"), items::create, &[add]).await);
        if gone.len() == CALLS {
            rows.push(measure(&app, at("DELETE /org/items/{id}"), items::delete, &gone).await);
        }
        // One rename, timed alone (each changes the name).
        name = if name.ends_with("_b") {
            o.name.clone()
        } else {
            format!("{}_b", o.name)
        };
        let rename = Req::put("/org/update", json!({ "organization_name": &name })).token(&o.token);
        let hooks = app.store.hooks();
        let (commands, bytes) = (hooks.commands(), hooks.reply_bytes());
        reset_peak();
        let (cpu, started) = (ProcessTime::now(), Instant::now());
        let res = call(&app, organizations::update, &rename).await;
        let (cpu, wall): (Duration, Duration) = (cpu.elapsed(), started.elapsed());
        assert_eq!(res.status, 200, "{}", res.text);
        let row = Row {
            dimension: "items",
            size,
            route: "PUT /org/update (rename)",
            commands: (hooks.commands() - commands) as f64,
            reply_bytes: (hooks.reply_bytes() - bytes) as f64,
            cpu_us: cpu.as_secs_f64() * 1e6,
            p50_ms: wall.as_secs_f64() * 1e3,
            peak_rss_kib: peak_rss_kib(),
            status: res.status.as_u16(),
        };
        row.print();
        rows.push(row);
    }
}

/// What one tenant costs the server at rest: (bytes of storage per organization made
/// through the API, with its registry document, account and collection; the registry
/// document's average size), from the server's `dbStats` (the local server's file).
async fn footprint(tenants: u64) -> serde_json::Value {
    let (_server, app) = fresh().await;
    let db = app.store.databases().0;
    let size = || async {
        let stats = db
            .run_command(doc! { "dbStats": 1 })
            .await
            .expect("dbStats");
        stats
            .get_i64("storageSize")
            .or_else(|_| stats.get_i32("storageSize").map(i64::from))
            .or_else(|_| stats.get_f64("storageSize").map(|f| f as i64))
            .unwrap_or(0)
    };
    signup(&app).await;
    let before = size().await;
    for _ in 0..tenants {
        signup(&app).await;
    }
    let per_tenant = (size().await - before) as f64 / tenants as f64;
    let registry_doc = db
        .run_command(doc! { "collStats": "organizations" })
        .await
        .ok()
        .and_then(|s| {
            s.get_f64("avgObjSize")
                .ok()
                .or(s.get_i32("avgObjSize").ok().map(f64::from))
        });
    println!(
        "footprint: {per_tenant:.0} bytes of storage per tenant ({tenants} made), registry document {registry_doc:?} bytes"
    );
    json!({ "tenants": tenants, "bytes_per_tenant": per_tenant, "registry_doc_bytes": registry_doc })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let pick = |full: &[u64], small: &[u64]| if bench { full.to_vec() } else { small.to_vec() };
    let mut rows = Vec::new();
    organizations(&pick(&[1, 1_000, 100_000], &[1, 30]), &mut rows).await;
    members(&pick(&[1, 100, 10_000], &[1, 30]), &mut rows).await;
    audit_events(&pick(&[1_000, 1_000_000], &[20, 60]), &mut rows).await;
    items_and_rename(&pick(&[1_000, 1_000_000], &[20, 60]), &mut rows).await;
    let out = std::env::var("SCALE_OUT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../target/scale.json").to_owned()
    });
    let footprint = footprint(if bench { 200 } else { 5 }).await;
    let all = json!({ "rows": &rows, "footprint": footprint });
    std::fs::write(&out, serde_json::to_string_pretty(&all).expect("json")).expect("write");
    println!("scale: {} rows in {out}", rows.len());
    // Whatever the size, a route's round trips stay within the goal's 1.5x (they are
    // the same but for a retry of a conditional write that met another).
    for row in &rows {
        let first = rows
            .iter()
            .find(|r| r.dimension == row.dimension && r.route == row.route)
            .expect("itself");
        assert!(
            row.commands <= first.commands * 1.5 && first.commands <= row.commands * 1.5,
            "{} at {} sends {} commands, at {} {}",
            row.route,
            row.size,
            row.commands,
            first.size,
            first.commands
        );
        // (At full size the local server can take longer than the driver waits for a
        // scan it does where MongoDB walks an index: reported in the table, not fatal.)
        assert!(bench || row.status < 500, "{row:?}");
    }
}
