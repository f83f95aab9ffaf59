//! What a request costs inside the function, apart from the database:
//! `cargo bench -p tenant --bench handlers` (`make bench` runs it and copies the figures
//! into BENCHMARKS.md).
//!
//! - `pure/*`: the per-request work that needs no database, on its own, in wall-clock
//!   time: API Gateway event → request, body parsing and validation, JWT issue and verify,
//!   the organization view and its JSON, the item check, the error path of the wrapper,
//!   the response event.
//! - `cpu/*`: each handler that does not hash a password, called for real against the
//!   MongoDB-compatible server named by `MONGODB_URI`, measured in CPU time of this
//!   process on a single-threaded runtime. Time spent waiting on the server is not
//!   counted; the driver's own work (BSON, socket calls) is. The wall-clock time of the
//!   same calls, and of the bare commands each route sends (`db/*`), are recorded too, so
//!   that wall − commands is a second, noisier estimate of the overhead.
//! - `bcrypt/*`: one verify at cost 12, on one thread and on two threads at once.
//!
//! Before the timings, the database round trips of every route are counted through
//! [`tenant::store::Store::round_trips`] (one request each, after a warm-up request).
//!
//! Environment: `MONGODB_URI` (the database parts are skipped without it), `BENCH_JSON`
//! (where to write every figure as JSON). Under `cargo test` (criterion's test mode) only
//! the `pure` group runs, once, as a smoke test: nothing is timed there.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use mongodb::bson::{DateTime, Document, doc, oid::ObjectId};
use serde_json::{Value, json};
use tenant::App;
use tenant::auth::jwt;
use tenant::config::Config;
use tenant::domain::{Email, OrganizationName, Password};
use tenant::error::ApiError;
use tenant::http::{Form, handle, json as json_response, json_body, no_content, required_query};
use tenant::lambda::Handler;
use tenant::org::lifecycle;
use tenant::org::{self, OrgView};
use tenant::store::OrgDoc;
use tenant::{admin, items, meta};
use tokio::runtime::Runtime;

const PASSWORD: &str = "Passw0rd1";

/// A typical item: what `events/items_create.json` stores.
fn typical_item() -> Value {
    json!({ "name": "widget", "qty": 3, "tags": ["blue", "small"], "dims": { "w": 1.5, "h": 2 } })
}

// ---------------------------------------------------------------------------------------
// Figures kept for the summary and BENCH_JSON (criterion keeps its own for its report).

#[derive(Default)]
struct Figures {
    /// Per-iteration (or per-batch mean) nanoseconds, by benchmark id.
    samples: BTreeMap<String, Vec<f64>>,
    /// Responses whose status was not the expected one, by benchmark id.
    unexpected: BTreeMap<String, u64>,
    /// Round trips per route case.
    round_trips: Vec<Value>,
    /// Anything else worth reporting.
    notes: BTreeMap<String, Value>,
}

static FIGURES: Mutex<Option<Figures>> = Mutex::new(None);

fn with_figures<T>(f: impl FnOnce(&mut Figures) -> T) -> T {
    let mut guard = FIGURES.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Figures::default))
}

fn record(id: &str, nanos: f64) {
    with_figures(|f| f.samples.entry(id.to_owned()).or_default().push(nanos));
}

fn stats(values: &[f64]) -> Value {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    json!({ "n": v.len(), "median_ns": at(0.5), "p90_ns": at(0.9), "min_ns": v[0] })
}

// ---------------------------------------------------------------------------------------
// CPU time of this process (all threads), not the wall clock.

#[cfg(target_os = "linux")]
fn cpu_now() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec (64-bit time_t and long on the
    // 64-bit Linux targets this runs on); clock_gettime writes only into it.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Elsewhere: wall clock (the `cpu` figures then include the database wait).
#[cfg(not(target_os = "linux"))]
fn cpu_now() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

// ---------------------------------------------------------------------------------------
// Requests as the Lambda runtime makes them: from an API Gateway (HTTP API, v2) event.

#[derive(Default)]
struct Ev<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    params: &'a [(&'a str, &'a str)],
    token: Option<&'a str>,
    body: Option<Value>,
    ip: Option<&'a str>,
}

impl Ev<'_> {
    fn json(&self) -> String {
        let mut headers = json!({ "accept": "application/json", "user-agent": "bench" });
        if let Some(token) = self.token {
            headers["authorization"] = format!("Bearer {token}").into();
        }
        if self.body.is_some() {
            headers["content-type"] = "application/json".into();
        }
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
                .collect::<serde_json::Map<_, _>>()
        };
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let route_key = format!("{} {}", self.method, self.path);
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "queryStringParameters": map(self.query),
            "pathParameters": map(self.params),
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "bench",
                "domainName": "bench.execute-api.us-east-1.amazonaws.com",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.ip.unwrap_or("198.51.100.23"),
                    "userAgent": "bench"
                },
                "requestId": format!("bench-{:016x}", rand::random::<u64>()),
                "routeKey": route_key,
                "stage": "$default",
                "time": "01/Jan/2026:10:30:31 +0000",
                "timeEpoch": 1_767_263_431_000_i64
            },
            "isBase64Encoded": false
        });
        if let Some(body) = &self.body {
            event["body"] = body.to_string().into();
        }
        event.to_string()
    }

    fn request(&self) -> Request {
        lambda_http::request::from_str(&self.json()).expect("a valid API Gateway v2 event")
    }
}

/// The response as the runtime posts it back (what lambda_http does for payload v2).
fn response_event(resp: Response<Body>) -> Vec<u8> {
    let (parts, body) = resp.into_parts();
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = match body {
        Body::Empty => None,
        b => Some(b),
    };
    serde_json::to_vec(&out).expect("response event")
}

fn body_json(resp: &Response<Body>) -> Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

// ---------------------------------------------------------------------------------------
// pure: no database.

fn sample_org() -> OrgDoc {
    let name = "acme-corp";
    OrgDoc {
        id: ObjectId::new(),
        name: name.into(),
        collection_name: "org_acme_corp".into(),
        placement: tenant::store::Placement {
            database: "org_tenants".into(),
            collection: "org_acme_corp".into(),
        },
        admin_id: ObjectId::new(),
        email: "admin@acme.example.com".into(),
        password_hash: "$2b$12$aOlsD1rdyftuhFsswNhGOeneWSyuAfxHwqmY/DoqXx..LUAbcYfG6".into(),
        token_version: 3,
        created_at: DateTime::now(),
        updated_at: Some(DateTime::now()),
        pending: None,
    }
}

fn bench_config(uri: &str, suffix: &str) -> Config {
    let vars: HashMap<String, String> = HashMap::from([
        ("MONGODB_URI".into(), uri.into()),
        (
            "JWT_SECRET".into(),
            format!(
                "bench-{:032x}{:032x}",
                rand::random::<u128>(),
                rand::random::<u128>()
            ),
        ),
        ("BCRYPT_COST".into(), "4".into()),
        ("MASTER_DB".into(), format!("bench_master_{suffix}")),
        ("TENANT_DB".into(), format!("bench_tenants_{suffix}")),
    ]);
    Config::from_vars(&vars).expect("bench configuration")
}

/// Times `f` per batch (wall clock), keeping each batch's mean for the summary.
fn pure_bench<T>(c: &mut Criterion, id: &str, mut f: impl FnMut() -> T) {
    let id = format!("pure/{id}");
    c.bench_function(&id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            let elapsed = start.elapsed();
            record(&id, elapsed.as_nanos() as f64 / iters as f64);
            elapsed
        })
    });
}

fn any_password(raw: &str) -> Result<String, String> {
    if raw.is_empty() || raw.len() > 1024 {
        return Err("Password must be 1 to 1024 bytes long".into());
    }
    Ok(raw.to_owned())
}

fn pure(c: &mut Criterion) {
    let config = bench_config("mongodb://127.0.0.1:9", "pure");
    let org = sample_org();
    let token = jwt::issue(&config.jwt, &org).expect("token");
    let current = current_thread();

    let get_event = Ev {
        method: "GET",
        path: "/org/get",
        query: &[("organization_name", "Acme-Corp")],
        ..Ev::default()
    }
    .json();
    let create_body = json!({ "organization_name": "Acme-Corp", "email": "Admin@Acme.example.com", "password": PASSWORD });
    let create_req = Ev {
        method: "POST",
        path: "/org/create",
        body: Some(create_body),
        ..Ev::default()
    }
    .request();
    let update_req = Ev {
        method: "PUT",
        path: "/org/update",
        token: Some(&token),
        body: Some(json!({ "email": "new@acme.example.com" })),
        ..Ev::default()
    }
    .request();
    let login_req = Ev {
        method: "POST",
        path: "/admin/login",
        body: Some(json!({ "email": "admin@acme.example.com", "password": PASSWORD })),
        ..Ev::default()
    }
    .request();
    let item_event = Ev {
        method: "POST",
        path: "/org/items",
        token: Some(&token),
        body: Some(typical_item()),
        ..Ev::default()
    }
    .json();
    let item_req = lambda_http::request::from_str(&item_event).expect("event");
    let get_req = lambda_http::request::from_str(&get_event).expect("event");

    pure_bench(c, "event_to_request_get", || {
        lambda_http::request::from_str(&get_event).expect("event")
    });
    pure_bench(c, "event_to_request_item", || {
        lambda_http::request::from_str(&item_event).expect("event")
    });
    pure_bench(c, "query_org_get", || {
        let raw = required_query(&get_req, "organization_name").expect("name");
        OrganizationName::parse(&raw).expect("valid")
    });
    pure_bench(c, "form_org_create", || {
        let mut form = Form::from_request(&create_req).expect("form");
        let name = form.required("organization_name", OrganizationName::parse);
        let email = form.required("email", Email::parse);
        let password = form.required("password", Password::parse);
        form.finish(name.zip(email).zip(password)).expect("valid")
    });
    pure_bench(c, "form_org_update_email", || {
        let mut form = Form::from_request(&update_req).expect("form");
        let name = form.optional("organization_name", OrganizationName::parse);
        let email = form.optional("email", Email::parse);
        let password = form.optional("password", Password::parse);
        form.finish(Some((name, email, password))).expect("valid")
    });
    pure_bench(c, "form_admin_login", || {
        let mut form = Form::from_request(&login_req).expect("form");
        let email = form.required("email", Email::parse);
        let given = form.required("password", any_password);
        form.finish(email.zip(given)).expect("valid")
    });
    pure_bench(c, "jwt_issue", || {
        jwt::issue(&config.jwt, &org).expect("token")
    });
    pure_bench(c, "jwt_verify", || {
        let bearer = tenant::http::bearer_token(&update_req).expect("bearer");
        let claims = jwt::verify(&config.jwt, bearer).expect("valid");
        ObjectId::parse_str(&claims.org_id).expect("id")
    });
    pure_bench(c, "org_view_json", || {
        json_response(StatusCode::OK, &OrgView::from(&org)).expect("json")
    });
    pure_bench(c, "item_body_check_bson", || {
        let data = Value::Object(json_body(&item_req).expect("body"));
        items::check_item(&data, &mut Vec::new()).expect("valid");
        mongodb::bson::to_bson(&data).expect("bson")
    });
    pure_bench(c, "handle_wrapper_204", || {
        let req = lambda_http::request::from_str(&get_event).expect("event");
        current.block_on(handle(req, |_| async { no_content() }))
    });
    pure_bench(c, "handle_wrapper_401", || {
        let req = lambda_http::request::from_str(&get_event).expect("event");
        current.block_on(handle(req, |_| async {
            Err::<Response<Body>, _>(ApiError::Unauthorized("Not authenticated".into()))
        }))
    });
    pure_bench(c, "response_event_org", || {
        response_event(json_response(StatusCode::OK, &OrgView::from(&org)).expect("json"))
    });
}

// ---------------------------------------------------------------------------------------
// bcrypt at cost 12.

fn bcrypt_group(c: &mut Criterion) {
    let hash = bcrypt::hash(PASSWORD, 12).expect("hash");
    let mut group = c.benchmark_group("bcrypt");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("verify_cost12_1_thread", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(bcrypt::verify("wrong-password", &hash).ok());
            }
            let elapsed = start.elapsed();
            record(
                "bcrypt/verify_cost12_1_thread",
                elapsed.as_nanos() as f64 / iters as f64,
            );
            elapsed
        })
    });
    group.bench_function("verify_cost12_2_threads", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| black_box(bcrypt::verify("wrong-password", &hash).ok()));
                    }
                });
            }
            let elapsed = start.elapsed();
            record(
                "bcrypt/verify_cost12_2_threads",
                elapsed.as_nanos() as f64 / iters as f64,
            );
            elapsed
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------
// The database parts.

/// A tenant collection, for planting and reading documents directly.
fn tenant_of(app: &App, place: &tenant::store::Placement) -> mongodb::Collection<Document> {
    app.store
        .databases()
        .1
        .client()
        .database(&place.database)
        .collection(&place.collection)
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

struct Org {
    doc: OrgDoc,
    token: String,
}

/// Registers an organization directly (no bcrypt: a cost-4 hash made once).
async fn make_org(app: &App, prefix: &str, hash: &str) -> Org {
    let name = OrganizationName::parse(&format!("{prefix}{:010x}", rand::random::<u64>() >> 24))
        .expect("name");
    let email = Email::parse(&format!("{}@bench.example.com", name.as_str())).expect("email");
    let doc = lifecycle::create(&app.store, &name, &email, hash.to_owned())
        .await
        .expect("create");
    let token = jwt::issue(&app.config.jwt, &doc).expect("token");
    Org { doc, token }
}

async fn insert_item(app: &App, org: &OrgDoc) -> ObjectId {
    let id = ObjectId::new();
    let data = mongodb::bson::to_bson(&typical_item()).expect("bson");
    tenant_of(app, &org.placement)
        .insert_one(doc! { "_id": id, "data": data, "created_at": DateTime::now() })
        .await
        .expect("insert");
    id
}

/// Calls a handler once and returns (round trips, status, body).
async fn counted<F>(app: &App, call: F) -> (u64, u16, Value)
where
    F: Future<Output = Response<Body>>,
{
    let before = app.store.hooks().commands();
    let resp = call.await;
    let trips = app.store.hooks().commands() - before;
    (trips, resp.status().as_u16(), body_json(&resp))
}

fn note_trips(route: &str, case: &str, (trips, status, _): &(u64, u16, Value), expect: u16) {
    if *status != expect {
        eprintln!("round trips: {route} ({case}) answered {status}, expected {expect}");
    }
    with_figures(|f| {
        f.round_trips.push(json!({
            "route": route, "case": case, "round_trips": trips, "status": status, "expected": expect,
        }))
    });
}

/// One request per route case (each after a warm-up request of the same kind), counting
/// the commands this client sends. The first request of a fresh process is counted too.
async fn round_trips(uri: &str) {
    let app = App::with_config(bench_config(
        uri,
        &format!("rt_{:08x}", rand::random::<u32>()),
    ))
    .await
    .expect("app");
    app.store.ping().await.expect("the database answers");
    let name = format!("rt-{:08x}", rand::random::<u32>());
    let email = format!("{name}@bench.example.com");
    let create = |n: &str, e: &str| {
        Ev {
            method: "POST",
            path: "/org/create",
            body: Some(json!({ "organization_name": n, "email": e, "password": PASSWORD })),
            ..Ev::default()
        }
        .request()
    };
    let login = |e: &str, p: &str, ip: &str| {
        Ev {
            method: "POST",
            path: "/admin/login",
            body: Some(json!({ "email": e, "password": p })),
            ip: Some(ip),
            ..Ev::default()
        }
        .request()
    };
    // Warm-up: one create (also makes the indexes once for this process).
    let warm = counted(&app, org::create(&app, create(&name, &email))).await;
    note_trips("org_create", "first create of the process", &warm, 201);
    let other = format!("rt2-{:08x}", rand::random::<u32>());
    let r = counted(
        &app,
        org::create(&app, create(&other, &format!("{other}@bench.example.com"))),
    )
    .await;
    note_trips("org_create", "create", &r, 201);
    let r = counted(
        &app,
        org::create(&app, create(&other, &format!("x{other}@bench.example.com"))),
    )
    .await;
    note_trips("org_create", "duplicate name (400)", &r, 400);

    let ip = "203.0.113.7";
    let r = counted(&app, admin::login(&app, login(&email, PASSWORD, ip))).await;
    note_trips(
        "admin_login",
        "success, first of this email and IP",
        &r,
        200,
    );
    let r = counted(&app, admin::login(&app, login(&email, PASSWORD, ip))).await;
    note_trips("admin_login", "success", &r, 200);
    let token = r.2["access_token"].as_str().unwrap_or_default().to_owned();
    let r = counted(&app, admin::login(&app, login(&email, "Wr0ngPassword", ip))).await;
    note_trips("admin_login", "wrong password, first failure", &r, 401);
    let r = counted(&app, admin::login(&app, login(&email, "Wr0ngPassword", ip))).await;
    note_trips("admin_login", "wrong password", &r, 401);
    let unknown = |i: u32| format!("nobody-{i}-{:08x}@bench.example.com", rand::random::<u32>());
    let r = counted(&app, admin::login(&app, login(&unknown(1), PASSWORD, ip))).await;
    note_trips("admin_login", "unknown email", &r, 401);
    let r = counted(&app, admin::login(&app, login(&email, PASSWORD, ip))).await;
    note_trips("admin_login", "success after failures", &r, 200);

    let get = |n: &str| {
        Ev {
            method: "GET",
            path: "/org/get",
            query: &[("organization_name", n)],
            ..Ev::default()
        }
        .request()
    };
    let _ = counted(&app, org::get(&app, get(&name))).await;
    let r = counted(&app, org::get(&app, get(&name))).await;
    note_trips("org_get", "found", &r, 200);
    let r = counted(&app, org::get(&app, get("no-such-org"))).await;
    note_trips("org_get", "not found", &r, 404);

    let update = |body: Value, token: &str| {
        Ev {
            method: "PUT",
            path: "/org/update",
            token: Some(token),
            body: Some(body),
            ..Ev::default()
        }
        .request()
    };
    let r = counted(
        &app,
        org::update(
            &app,
            update(json!({ "email": format!("a.{email}") }), &token),
        ),
    )
    .await;
    note_trips("org_update", "email", &r, 200);
    let r = counted(
        &app,
        org::update(
            &app,
            update(json!({ "email": format!("b.{email}") }), &token),
        ),
    )
    .await;
    note_trips("org_update", "email (again)", &r, 200);
    let r = counted(
        &app,
        org::update(
            &app,
            update(
                json!({ "email": format!("{other}@bench.example.com") }),
                &token,
            ),
        ),
    )
    .await;
    note_trips("org_update", "email taken (400)", &r, 400);
    let r = counted(
        &app,
        org::update(
            &app,
            update(json!({ "organization_name": format!("{name}-b") }), &token),
        ),
    )
    .await;
    note_trips("org_update", "rename", &r, 200);

    let items_req = |method: &'static str,
                     path: &'static str,
                     params: &[(&str, &str)],
                     body: Option<Value>,
                     token: &str| {
        Ev {
            method,
            path,
            params,
            token: Some(token),
            body,
            ..Ev::default()
        }
        .request()
    };
    let _ = counted(
        &app,
        items::create(
            &app,
            items_req("POST", "/org/items", &[], Some(typical_item()), &token),
        ),
    )
    .await;
    let r = counted(
        &app,
        items::create(
            &app,
            items_req("POST", "/org/items", &[], Some(typical_item()), &token),
        ),
    )
    .await;
    note_trips("items_create", "create", &r, 201);
    let id = r.2["id"].as_str().unwrap_or_default().to_owned();
    let r = counted(
        &app,
        items::list(&app, items_req("GET", "/org/items", &[], None, &token)),
    )
    .await;
    note_trips("items_list", "first page", &r, 200);
    let r = counted(
        &app,
        items::get(
            &app,
            items_req("GET", "/org/items/{id}", &[("id", &id)], None, &token),
        ),
    )
    .await;
    note_trips("items_get", "found", &r, 200);
    let r = counted(
        &app,
        items::delete(
            &app,
            items_req("DELETE", "/org/items/{id}", &[("id", &id)], None, &token),
        ),
    )
    .await;
    note_trips("items_delete", "deleted", &r, 204);
    let r = counted(
        &app,
        items::get(
            &app,
            items_req("GET", "/org/items/{id}", &[("id", &id)], None, &token),
        ),
    )
    .await;
    note_trips("items_get", "not found", &r, 404);
    let r = counted(
        &app,
        items::get(
            &app,
            items_req(
                "GET",
                "/org/items/{id}",
                &[("id", &id)],
                None,
                "not.a.token",
            ),
        ),
    )
    .await;
    note_trips("items_get", "bad token (401)", &r, 401);

    let r = counted(
        &app,
        org::update(&app, update(json!({ "password": "N3wPassword" }), &token)),
    )
    .await;
    note_trips("org_update", "password", &r, 200);
    let r = counted(
        &app,
        admin::login(&app, login(&format!("b.{email}"), "N3wPassword", ip)),
    )
    .await;
    let token = r.2["access_token"].as_str().unwrap_or_default().to_owned();
    let plain = |method: &'static str, path: &'static str, token: Option<&str>| {
        Ev {
            method,
            path,
            token,
            ..Ev::default()
        }
        .request()
    };
    let r = counted(
        &app,
        admin::logout(&app, plain("POST", "/admin/logout", Some(&token))),
    )
    .await;
    note_trips("admin_logout", "logout", &r, 204);
    let r = counted(
        &app,
        admin::login(&app, login(&format!("b.{email}"), "N3wPassword", ip)),
    )
    .await;
    let token = r.2["access_token"].as_str().unwrap_or_default().to_owned();
    let r = counted(
        &app,
        org::delete(&app, plain("DELETE", "/org/delete", Some(&token))),
    )
    .await;
    note_trips("org_delete", "delete", &r, 204);

    let r = counted(&app, meta::health(&app, plain("GET", "/health", None))).await;
    note_trips("health", "healthy", &r, 200);
    let r = counted(&app, meta::docs(&app, plain("GET", "/openapi.json", None))).await;
    note_trips("docs", "openapi.json", &r, 200);
    let r = counted(
        &app,
        tenant::dashboard::dashboard(&app, plain("GET", "/dashboard", None)),
    )
    .await;
    note_trips("dashboard", "page", &r, 200);
    let r = counted(
        &app,
        meta::not_found_route(&app, plain("GET", "/nope", None)),
    )
    .await;
    note_trips("not_found", "any path", &r, 404);

    // The first request of a fresh process (same databases, a new client).
    let again = || async {
        let mut config = bench_config(uri, "unused");
        config.master_db.clone_from(&app.config.master_db);
        config.tenant_db.clone_from(&app.config.tenant_db);
        config.jwt.secret = app.config.jwt.secret.clone();
        App::with_config(config).await.expect("app")
    };
    let other_token = {
        let r = counted(
            &app,
            admin::login(
                &app,
                login(&format!("{other}@bench.example.com"), PASSWORD, ip),
            ),
        )
        .await;
        r.2["access_token"].as_str().unwrap_or_default().to_owned()
    };
    let fresh = again().await;
    let r = counted(&fresh, org::get(&fresh, get(&other))).await;
    note_trips("org_get", "first request of a process", &r, 200);
    let fresh = again().await;
    let r = counted(
        &fresh,
        org::update(
            &fresh,
            update(
                json!({ "email": format!("c.{other}@bench.example.com") }),
                &other_token,
            ),
        ),
    )
    .await;
    note_trips("org_update", "email, first request of a process", &r, 200);
    let fresh = again().await;
    let r = counted(
        &fresh,
        items::list(
            &fresh,
            items_req("GET", "/org/items", &[], None, &other_token),
        ),
    )
    .await;
    note_trips("items_list", "first request of a process", &r, 200);
}

/// Runs `call` once per iteration on the current-thread runtime, after an untimed
/// `prepare`; criterion gets the CPU time, the summary gets CPU and wall time.
///
/// With `bare`, each call is followed by the route's database commands sent bare through
/// the driver (`bare` returns their CPU time): the difference, per iteration, is what the
/// handler costs besides its commands, measured under the same conditions (paired).
#[allow(clippy::too_many_arguments)]
fn handler_bench<H>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    app: &App,
    id: &str,
    expect: u16,
    handler: H,
    mut bare: Option<&mut dyn FnMut() -> Duration>,
    mut prepare: impl FnMut() -> Request,
) where
    H: for<'a> Handler<'a>,
{
    let (cpu_id, wall_id, own_id) = (
        format!("cpu/{id}"),
        format!("wall/{id}"),
        format!("own/{id}"),
    );
    // One call outside the measurement, to check the route answers as expected.
    let status = rt.block_on(handler(app, prepare())).status().as_u16();
    assert_eq!(status, expect, "{id}: unexpected status before timing");
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut cpu = Duration::ZERO;
            for _ in 0..iters {
                let req = prepare();
                let (c0, w0) = (cpu_now(), Instant::now());
                let resp = rt.block_on(handler(app, req));
                let (dc, dw) = (cpu_now() - c0, w0.elapsed());
                cpu += dc;
                record(&cpu_id, dc.as_nanos() as f64);
                record(&wall_id, dw.as_nanos() as f64);
                if let Some(bare) = bare.as_mut() {
                    let commands = bare();
                    record(&own_id, dc.as_nanos() as f64 - commands.as_nanos() as f64);
                }
                if resp.status().as_u16() != expect {
                    with_figures(|f| *f.unexpected.entry(id.to_owned()).or_default() += 1);
                }
            }
            cpu
        })
    });
}

/// CPU time of one future run to completion on `rt`.
fn cpu_of<F: Future<Output = ()>>(rt: &Runtime, fut: F) -> Duration {
    let c0 = cpu_now();
    rt.block_on(fut);
    cpu_now() - c0
}

/// A bare database command, per iteration, after an untimed `prepare`.
fn db_bench<P, F, Fut>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    id: &str,
    mut prepare: impl FnMut() -> P,
    command: F,
) where
    F: Fn(P) -> Fut,
    Fut: Future<Output = ()>,
{
    let (wall_id, cpu_id) = (format!("db/{id}"), format!("dbcpu/{id}"));
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let input = prepare();
                let (c0, w0) = (cpu_now(), Instant::now());
                rt.block_on(command(input));
                let (dc, dw) = (cpu_now() - c0, w0.elapsed());
                total += dw;
                record(&wall_id, dw.as_nanos() as f64);
                record(&cpu_id, dc.as_nanos() as f64);
            }
            total
        })
    });
}

fn database(c: &mut Criterion, uri: &str) {
    let rt = current_thread();
    rt.block_on(round_trips(uri));
    print_round_trips();

    let app = rt
        .block_on(App::with_config(bench_config(
            uri,
            &format!("{:08x}", rand::random::<u32>()),
        )))
        .expect("app");
    let app = &app;
    let hash = bcrypt::hash(PASSWORD, 4).expect("hash");
    let (main, list, scratch, logout, rename) = rt.block_on(async {
        app.store.ensure_indexes().await.expect("indexes");
        let main = make_org(app, "main-", &hash).await;
        let list = make_org(app, "list-", &hash).await;
        for _ in 0..25 {
            insert_item(app, &list.doc).await;
        }
        let scratch = make_org(app, "scratch-", &hash).await;
        let logout = make_org(app, "logout-", &hash).await;
        let rename = make_org(app, "rename-", &hash).await;
        (main, list, scratch, logout, rename)
    });
    let list_item_in_list = rt.block_on(async {
        tenant_of(app, &list.doc.placement)
            .find_one(doc! {})
            .await
            .expect("find")
            .and_then(|d| d.get_object_id("_id").ok())
            .expect("an item")
    });

    // The commands of each route, sent bare (paired with the handler calls below).
    let orgs = app.store.databases().0.collection::<OrgDoc>("organizations");
    let scratch_items = tenant_of(app, &scratch.doc.placement);
    let list_items = tenant_of(app, &list.doc.placement);
    let (main_id, list_id_org, logout_id, scratch_id) =
        (main.doc.id, list.doc.id, logout.doc.id, scratch.doc.id);
    let main_name_bare = main.doc.name.clone();
    let by_id = |id: ObjectId| {
        let orgs = orgs.clone();
        async move {
            orgs.find_one(doc! { "_id": id }).await.expect("find");
        }
    };
    let mut bare_health = || cpu_of(&rt, async { app.store.ping().await.expect("ping") });
    let mut bare_org_get = || {
        cpu_of(&rt, async {
            orgs.find_one(doc! { "name": &main_name_bare })
                .await
                .expect("find");
        })
    };
    let mut bare_update = || {
        cpu_of(&rt, async {
            by_id(main_id).await;
            orgs.find_one_and_update(
                doc! { "_id": scratch_id, "pending": { "$exists": false } },
                doc! { "$set": { "updated_at": DateTime::now() } },
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .expect("update");
        })
    };
    let mut bare_items_create = || {
        let data = mongodb::bson::to_bson(&typical_item()).expect("bson");
        let item = doc! { "_id": ObjectId::new(), "data": data, "created_at": DateTime::now() };
        cpu_of(&rt, async {
            by_id(main_id).await;
            scratch_items.insert_one(item).await.expect("insert");
        })
    };
    let mut bare_items_list = || {
        cpu_of(&rt, async {
            use futures_util::TryStreamExt;
            by_id(list_id_org).await;
            let docs: Vec<Document> = list_items
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .limit(21)
                .await
                .expect("find")
                .try_collect()
                .await
                .expect("page");
            black_box(docs);
        })
    };
    let mut bare_items_get = || {
        cpu_of(&rt, async {
            by_id(list_id_org).await;
            list_items
                .find_one(doc! { "_id": list_item_in_list })
                .await
                .expect("find");
        })
    };
    let mut bare_items_delete = || {
        let id = rt.block_on(insert_item(app, &scratch.doc));
        cpu_of(&rt, async {
            by_id(main_id).await;
            scratch_items
                .delete_one(doc! { "_id": id })
                .await
                .expect("delete");
        })
    };
    let mut bare_logout = || {
        cpu_of(&rt, async {
            by_id(logout_id).await;
            orgs.update_one(
                doc! { "_id": scratch_id },
                doc! { "$inc": { "token_version": 1_i64 } },
            )
            .await
            .expect("update");
        })
    };

    let mut group = c.benchmark_group("cpu");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    handler_bench(
        &mut group,
        &rt,
        app,
        "health",
        200,
        meta::health,
        Some(&mut bare_health),
        || {
            Ev {
                method: "GET",
                path: "/health",
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "docs_openapi",
        200,
        meta::docs,
        None,
        || {
            Ev {
                method: "GET",
                path: "/openapi.json",
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "not_found",
        404,
        meta::not_found_route,
        None,
        || {
            Ev {
                method: "GET",
                path: "/nope",
                ..Ev::default()
            }
            .request()
        },
    );
    let main_name = main.doc.name.clone();
    handler_bench(
        &mut group,
        &rt,
        app,
        "org_get",
        200,
        org::get,
        Some(&mut bare_org_get),
        || {
            Ev {
                method: "GET",
                path: "/org/get",
                query: &[("organization_name", &main_name)],
                ..Ev::default()
            }
            .request()
        },
    );
    let mut flip = false;
    let main_email = main.doc.email.clone();
    handler_bench(
        &mut group,
        &rt,
        app,
        "org_update_email",
        200,
        org::update,
        Some(&mut bare_update),
        || {
            flip = !flip;
            let email = if flip {
                format!("x.{main_email}")
            } else {
                main_email.clone()
            };
            Ev {
                method: "PUT",
                path: "/org/update",
                token: Some(&main.token),
                body: Some(json!({ "email": email })),
                ..Ev::default()
            }
            .request()
        },
    );
    let mut flip = false;
    let rename_name = rename.doc.name.clone();
    handler_bench(
        &mut group,
        &rt,
        app,
        "org_update_rename",
        200,
        org::update,
        None,
        || {
            flip = !flip;
            let name = if flip {
                format!("{rename_name}-b")
            } else {
                rename_name.clone()
            };
            Ev {
                method: "PUT",
                path: "/org/update",
                token: Some(&rename.token),
                body: Some(json!({ "organization_name": name })),
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "items_create",
        201,
        items::create,
        Some(&mut bare_items_create),
        || {
            Ev {
                method: "POST",
                path: "/org/items",
                token: Some(&main.token),
                body: Some(typical_item()),
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "items_list",
        200,
        items::list,
        Some(&mut bare_items_list),
        || {
            Ev {
                method: "GET",
                path: "/org/items",
                token: Some(&list.token),
                ..Ev::default()
            }
            .request()
        },
    );
    let list_id = list_item_in_list.to_hex();
    handler_bench(
        &mut group,
        &rt,
        app,
        "items_get",
        200,
        items::get,
        Some(&mut bare_items_get),
        || {
            Ev {
                method: "GET",
                path: "/org/items/{id}",
                params: &[("id", &list_id)],
                token: Some(&list.token),
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "items_delete",
        204,
        items::delete,
        Some(&mut bare_items_delete),
        || {
            let id = rt.block_on(insert_item(app, &main.doc)).to_hex();
            Ev {
                method: "DELETE",
                path: "/org/items/{id}",
                params: &[("id", &id)],
                token: Some(&main.token),
                ..Ev::default()
            }
            .request()
        },
    );
    let mut logout_doc = logout.doc.clone();
    handler_bench(
        &mut group,
        &rt,
        app,
        "admin_logout",
        204,
        admin::logout,
        Some(&mut bare_logout),
        || {
            let token = jwt::issue(&app.config.jwt, &logout_doc).expect("token");
            logout_doc.token_version += 1;
            Ev {
                method: "POST",
                path: "/admin/logout",
                token: Some(&token),
                ..Ev::default()
            }
            .request()
        },
    );
    handler_bench(
        &mut group,
        &rt,
        app,
        "org_delete",
        204,
        org::delete,
        None,
        || {
            let doomed = rt.block_on(make_org(app, "doomed-", &hash));
            Ev {
                method: "DELETE",
                path: "/org/delete",
                token: Some(&doomed.token),
                ..Ev::default()
            }
            .request()
        },
    );
    group.finish();

    let mut group = c.benchmark_group("db");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let orgs = app.store.databases().0.collection::<OrgDoc>("organizations");
    let (main_id, scratch_id) = (main.doc.id, scratch.doc.id);
    let scratch_items = tenant_of(app, &scratch.doc.placement);
    let list_items = tenant_of(app, &list.doc.placement);
    db_bench(
        &mut group,
        &rt,
        "ping",
        || (),
        |()| async { app.store.ping().await.expect("ping") },
    );
    db_bench(
        &mut group,
        &rt,
        "org_by_name",
        || main_name.clone(),
        |name| {
            let orgs = &orgs;
            async move {
                orgs.find_one(doc! { "name": name }).await.expect("find");
            }
        },
    );
    db_bench(
        &mut group,
        &rt,
        "org_by_id",
        || (),
        |()| async {
            orgs.find_one(doc! { "_id": main_id }).await.expect("find");
        },
    );
    db_bench(
        &mut group,
        &rt,
        "org_conditional_update",
        || (),
        |()| async {
            orgs.find_one_and_update(
                doc! { "_id": scratch_id, "pending": { "$exists": false } },
                doc! { "$set": { "updated_at": DateTime::now() } },
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await
            .expect("update");
        },
    );
    db_bench(
        &mut group,
        &rt,
        "org_increment",
        || (),
        |()| async {
            orgs.update_one(
                doc! { "_id": scratch_id },
                doc! { "$inc": { "token_version": 1_i64 } },
            )
            .await
            .expect("update");
        },
    );
    db_bench(
        &mut group,
        &rt,
        "item_insert",
        || {
            let data = mongodb::bson::to_bson(&typical_item()).expect("bson");
            doc! { "_id": ObjectId::new(), "data": data, "created_at": DateTime::now() }
        },
        |d: Document| {
            let scratch_items = &scratch_items;
            async move {
                scratch_items.insert_one(d).await.expect("insert");
            }
        },
    );
    db_bench(
        &mut group,
        &rt,
        "item_by_id",
        || (),
        |()| async {
            list_items
                .find_one(doc! { "_id": list_item_in_list })
                .await
                .expect("find");
        },
    );
    db_bench(
        &mut group,
        &rt,
        "items_page",
        || (),
        |()| async {
            use futures_util::TryStreamExt;
            let docs: Vec<Document> = list_items
                .find(doc! {})
                .sort(doc! { "_id": 1 })
                .limit(21)
                .await
                .expect("find")
                .try_collect()
                .await
                .expect("page");
            black_box(docs);
        },
    );
    db_bench(
        &mut group,
        &rt,
        "item_delete",
        || rt.block_on(insert_item(app, &scratch.doc)),
        |id| {
            let scratch_items = &scratch_items;
            async move {
                scratch_items
                    .delete_one(doc! { "_id": id })
                    .await
                    .expect("delete");
            }
        },
    );
    group.finish();
}

fn print_round_trips() {
    with_figures(|f| {
        println!("\nDatabase round trips per request (commands sent by the store's client):");
        println!(
            "{:<14} {:<40} {:>6} {:>6}",
            "route", "case", "trips", "status"
        );
        for r in &f.round_trips {
            println!(
                "{:<14} {:<40} {:>6} {:>6}",
                r["route"].as_str().unwrap_or(""),
                r["case"].as_str().unwrap_or(""),
                r["round_trips"],
                r["status"]
            );
        }
        println!();
    });
}

/// The commands each route sends, by the `db/*` names (what wall − commands subtracts).
const ROUTE_COMMANDS: &[(&str, &[&str])] = &[
    ("health", &["ping"]),
    ("docs_openapi", &[]),
    ("not_found", &[]),
    ("org_get", &["org_by_name"]),
    ("org_update_email", &["org_by_id", "org_conditional_update"]),
    ("items_create", &["org_by_id", "item_insert"]),
    ("items_list", &["org_by_id", "items_page"]),
    ("items_get", &["org_by_id", "item_by_id"]),
    ("items_delete", &["org_by_id", "item_delete"]),
    ("admin_logout", &["org_by_id", "org_increment"]),
];

fn summary() -> Value {
    with_figures(|f| {
        let median = |id: &str| {
            f.samples.get(id).map(|v| {
                let mut v = v.clone();
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            })
        };
        let mut handlers = serde_json::Map::new();
        let ids: Vec<String> = f
            .samples
            .keys()
            .filter_map(|k| k.strip_prefix("cpu/").map(str::to_owned))
            .collect();
        for id in ids {
            let cpu = median(&format!("cpu/{id}"));
            let wall = median(&format!("wall/{id}"));
            let commands = ROUTE_COMMANDS
                .iter()
                .find(|(r, _)| *r == id)
                .map(|(_, c)| *c);
            let bare: Option<f64> = commands.and_then(|c| {
                c.iter()
                    .map(|name| median(&format!("db/{name}")))
                    .sum::<Option<f64>>()
            });
            let bare_cpu: Option<f64> = commands.and_then(|c| {
                c.iter()
                    .map(|name| median(&format!("dbcpu/{name}")))
                    .sum::<Option<f64>>()
            });
            let trips = commands.map(|c| c.len());
            let ping = median("db/ping");
            handlers.insert(
                id.clone(),
                json!({
                    "cpu_ns": cpu,
                    "wall_ns": wall,
                    "bare_commands_ns": bare,
                    "wall_minus_commands_ns": wall.zip(bare).map(|(w, b)| w - b),
                    "commands_cpu_ns": bare_cpu,
                    "cpu_minus_commands_cpu_ns": median(&format!("own/{id}"))
                        .or_else(|| cpu.zip(bare_cpu).map(|(c, b)| c - b)),
                    "paired": f.samples.contains_key(&format!("own/{id}")),
                    "commands": trips,
                    "wall_minus_ping_x_commands_ns": wall.zip(ping).zip(trips).map(|((w, p), n)| w - p * n as f64),
                    "unexpected_statuses": f.unexpected.get(&id).copied().unwrap_or(0),
                }),
            );
        }
        let samples: serde_json::Map<String, Value> = f
            .samples
            .iter()
            .map(|(k, v)| (k.clone(), stats(v)))
            .collect();
        json!({
            "samples": samples,
            "handlers": handlers,
            "round_trips": f.round_trips,
            "notes": f.notes,
        })
    })
}

fn print_summary(s: &Value) {
    println!("\nIn-process cost per request (medians, µs):");
    println!(
        "{:<20} {:>9} {:>9} {:>11} {:>11} {:>11}",
        "handler", "cpu", "cpu-cmds", "wall", "wall-cmds", "wall-ping×n"
    );
    let us = |v: &Value| {
        v.as_f64()
            .map(|n| format!("{:.1}", n / 1000.0))
            .unwrap_or_else(|| "-".into())
    };
    if let Some(handlers) = s["handlers"].as_object() {
        for (id, h) in handlers {
            println!(
                "{:<20} {:>9} {:>9} {:>9} {:>11} {:>11}",
                id,
                us(&h["cpu_ns"]),
                us(&h["cpu_minus_commands_cpu_ns"]),
                us(&h["wall_ns"]),
                us(&h["wall_minus_commands_ns"]),
                us(&h["wall_minus_ping_x_commands_ns"])
            );
        }
    }
    println!("\nPure parts (medians, µs):");
    if let Some(samples) = s["samples"].as_object() {
        for (id, v) in samples {
            if ["pure/", "bcrypt/", "db/", "dbcpu/"]
                .iter()
                .any(|p| id.starts_with(p))
            {
                println!("{:<36} {:>12}", id, us(&v["median_ns"]));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let benchmarking = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    // The same log line per request as in Lambda, formatted but written nowhere.
    tenant::lambda::init_tracing_to(std::io::sink);
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    pure(&mut c);
    if benchmarking {
        bcrypt_group(&mut c);
        with_figures(|f| {
            f.notes.insert(
                "cpus".into(),
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
                    .into(),
            )
        });
        match std::env::var("MONGODB_URI") {
            Ok(uri) if !uri.is_empty() => database(&mut c, &uri),
            _ => {
                eprintln!("MONGODB_URI is unset: database round trips and handler figures skipped")
            }
        }
    }
    c.final_summary();
    if benchmarking {
        let s = summary();
        print_summary(&s);
        if let Ok(path) = std::env::var("BENCH_JSON") {
            std::fs::write(&path, serde_json::to_string_pretty(&s).expect("json"))
                .expect("BENCH_JSON is writable");
            println!("\nfigures written to {path}");
        }
    }
}
