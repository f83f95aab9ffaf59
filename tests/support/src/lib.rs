//! Test support: one way to build an API Gateway request (from the `events/` fixtures,
//! as Lambda delivers them), the test configuration, and typed helpers that every
//! handler test, end-to-end test and benchmark shares.

pub mod mail;
pub mod openapi;
pub mod receiver;

pub use mail::{Mail, dispatch, mail_app, mail_to, mailbox};
pub use receiver::{Hit, Receiver, verify_with_standardwebhooks};

use std::collections::HashMap;

use base64::Engine;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use mongodb::bson::Document;
use mongodb::bson::{DateTime, oid::ObjectId};
use mongodb::{Collection, Database};
use serde_json::{Value, json};
use tenant::App;
use tenant::config::Config;
use tenant::domain::Role;
use tenant::http::Handler;
use tenant::store::{Member, OrgDoc, Pending, PendingOp, Placement, member_key};

/// The JWT secret of test apps.
pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// A password that meets the rules.
pub const PASSWORD: &str = "Passw0rd1";
/// The event every request starts from: a real API Gateway HTTP API (v2) event.
const BASE_EVENT: &str = include_str!("../../../events/health.json");

/// A random lowercase suffix after `prefix`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:012x}", rand::random::<u64>() >> 16)
}

/// Settings for a fresh app with its own databases on the server of `MONGODB_URI`;
/// `extra` overrides.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let uri = std::env::var("MONGODB_URI")
        .expect("MONGODB_URI is unset: run the tests with `make test`, which starts the server");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("MONGODB_URI".into(), uri),
        ("JWT_SECRET".into(), SECRET.into()),
        ("BCRYPT_COST".into(), "4".into()),
        ("MASTER_DB".into(), unique("t_master_")),
        ("TENANT_DB".into(), unique("t_tenants_")),
        // Many tests write often as one caller: those of the limits set their own.
        ("WRITE_LIMIT_PER_MINUTE".into(), "1000000".into()),
        ("ANON_WRITE_LIMIT_PER_MINUTE".into(), "1000000".into()),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_vars(&vars).expect("test configuration")
}

/// A fresh app, on databases with their indexes (as after the deploy-time step).
pub async fn app() -> App {
    app_with(&[]).await
}

/// A fresh app with settings `extra` (see [`config`]), on databases with their indexes.
pub async fn app_with(extra: &[(&str, &str)]) -> App {
    let app = App::with_config(config(extra)).await.expect("app");
    tenant::jobs::migrate::run(&app.store)
        .await
        .expect("migrate");
    app
}

/// A request, built as an API Gateway HTTP API (v2) event and read the way Lambda
/// reads it.
#[derive(Clone)]
pub struct Req {
    event: Value,
}

impl Req {
    /// A request with no body, from a fresh client address.
    pub fn new(method: Method, path: &str) -> Self {
        let mut event: Value = serde_json::from_str(BASE_EVENT).expect("events/health.json");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        event["routeKey"] = json!("$default");
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method.as_str());
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["routeKey"] = json!("$default");
        event["requestContext"]["requestId"] = json!(unique("req-"));
        let mut req = Self { event }.ip(&unique("ip-"));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            req = req.query(k, v);
        }
        req
    }
    /// GET.
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }
    /// POST with a JSON body.
    pub fn post(path: &str, body: Value) -> Self {
        Self::new(Method::POST, path).json(body)
    }
    /// PUT with a JSON body.
    pub fn put(path: &str, body: Value) -> Self {
        Self::new(Method::PUT, path).json(body)
    }
    /// PATCH with a JSON body.
    pub fn patch(path: &str, body: Value) -> Self {
        Self::new(Method::PATCH, path).json(body)
    }
    /// DELETE.
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }
    /// A JSON body.
    pub fn json(self, body: Value) -> Self {
        self.raw(&body.to_string(), "application/json")
    }
    /// A text body with a content type.
    pub fn raw(mut self, body: &str, content_type: &str) -> Self {
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self.header("content-type", content_type)
    }
    /// A binary body (as API Gateway sends one: base64).
    pub fn binary(mut self, body: &[u8], content_type: &str) -> Self {
        self.event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        self.event["isBase64Encoded"] = json!(true);
        self.header("content-type", content_type)
    }
    /// A header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }
    /// A bearer token.
    pub fn token(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }
    /// A query parameter.
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.event["queryStringParameters"][k] = json!(v);
        let mut raw = form_urlencoded::Serializer::new(String::new());
        if let Some(q) = self.event["queryStringParameters"].as_object() {
            for (k, v) in q {
                raw.append_pair(k, v.as_str().unwrap_or_default());
            }
        }
        self.event["rawQueryString"] = json!(raw.finish());
        self
    }
    /// Query parameters, in order.
    pub fn queries(self, pairs: &[(&str, &str)]) -> Self {
        pairs.iter().fold(self, |req, (k, v)| req.query(k, v))
    }
    /// A path parameter.
    pub fn param(mut self, k: &str, v: &str) -> Self {
        self.event["pathParameters"][k] = json!(v);
        self
    }
    /// The client address API Gateway reports.
    pub fn ip(mut self, ip: &str) -> Self {
        self.event["requestContext"]["http"]["sourceIp"] = json!(ip);
        self
    }
    /// (v3) As API Gateway sends a request it authorized with IAM (`AWS_IAM`): the
    /// principal in the request context.
    pub fn iam(mut self, user_arn: &str) -> Self {
        self.event["requestContext"]["authorizer"] = json!({
            "iam": { "accountId": "123456789012", "userArn": user_arn, "userId": "AIDATEST" }
        });
        self
    }
    /// A named API Gateway stage (the path then starts with `/{stage}`).
    pub fn stage(mut self, stage: &str) -> Self {
        self.event["requestContext"]["stage"] = json!(stage);
        self
    }
    /// The event, as Lambda receives it.
    pub fn event(&self) -> &Value {
        &self.event
    }
    /// The lambda_http request.
    pub fn build(&self) -> Request {
        lambda_http::request::from_str(&self.event.to_string()).expect("a valid event")
    }
}

/// A response, decoded.
#[derive(Debug)]
pub struct Res {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON (`null` when it is not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

impl Res {
    /// Decodes a handler's response.
    pub fn from(resp: Response<Body>) -> Self {
        let (parts, body) = resp.into_parts();
        let text = match body {
            Body::Text(t) => t,
            Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
            _ => String::new(),
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status: parts.status,
            headers: parts.headers,
            body,
            text,
        }
    }
    /// The `detail` text.
    pub fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
    /// The `loc` paths of a 422.
    pub fn locs(&self) -> Vec<String> {
        self.body["detail"]
            .as_array()
            .map(|a| a.iter().map(|e| e["loc"].to_string()).collect())
            .unwrap_or_default()
    }
}

/// Serves one request with a handler, as the Lambda function does; the response must
/// be one the OpenAPI document describes ([`openapi::check`]).
pub async fn call<H>(app: &App, handler: H, req: &Req) -> Res
where
    H: for<'a> Handler<'a> + Sync,
{
    let request = req.build();
    let method = request.method().to_string();
    let path = tenant::http::route_path(&request).to_owned();
    let res = Res::from(tenant::http::run(app, request, &handler).await);
    let content_type = res
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    openapi::check(&method, &path, res.status.as_u16(), content_type, &res.text);
    res
}

/// An organization made for a test, with its admin's credentials and token.
pub struct Org {
    /// Name.
    pub name: String,
    /// Admin email.
    pub email: String,
    /// Id.
    pub id: String,
    /// A token of its admin.
    pub token: String,
}

/// The body of `POST /org/create`.
pub fn create_body(name: &str, email: &str, password: &str) -> Value {
    json!({ "organization_name": name, "email": email, "password": password })
}

/// `POST /admin/login` with an email and a password.
pub fn login_req(email: &str, password: &str) -> Req {
    Req::post(
        "/admin/login",
        json!({ "email": email, "password": password }),
    )
}

/// `POST /org/invitations` by `inviter` (a token): `email` invited as `role`.
pub fn invite_req(inviter: &str, email: &str, role: &str) -> Req {
    Req::post("/org/invitations", json!({ "email": email, "role": role })).token(inviter)
}

/// `POST /invitations/accept` of an invitation token, with a password.
pub fn accept_req(invitation: &str, password: &str) -> Req {
    Req::post(
        "/invitations/accept",
        json!({ "token": invitation, "password": password }),
    )
}

/// Creates an organization and logs its admin in.
pub async fn signup(app: &App) -> Org {
    let name = unique("org");
    let email = format!("{name}@example.com");
    let res = call(
        app,
        tenant::routes::organizations::create,
        &Req::post("/org/create", create_body(&name, &email, PASSWORD)),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().expect("id").to_owned();
    let token = login(app, &email, PASSWORD).await;
    Org {
        name,
        email,
        id,
        token,
    }
}

/// Logs in and returns the token.
pub async fn login(app: &App, email: &str, password: &str) -> String {
    let res = call(
        app,
        tenant::routes::sessions::login,
        &login_req(email, password),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["access_token"].as_str().expect("token").to_owned()
}

/// Adds an item to the organization of `token`; returns its id.
pub async fn add_item(app: &App, token: &str, data: Value) -> String {
    let res = call(
        app,
        tenant::routes::items::create,
        &Req::post("/org/items", data).token(token),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["id"].as_str().expect("id").to_owned()
}

/// The registry collection of an app, for planting or inspecting documents.
pub fn registry(app: &App) -> Collection<OrgDoc> {
    app.store.databases().0.collection("organizations")
}

/// The registry entry of the organization named `name`, if there is one.
pub async fn registered(app: &App, name: &str) -> Option<OrgDoc> {
    registry(app)
        .find_one(mongodb::bson::doc! { "name": name })
        .await
        .unwrap()
}

/// Sets the operation in flight (`pending`) of the organization named `name`, or clears
/// it (`None`), as a request that died or still runs would have left it.
pub async fn set_pending(app: &App, name: &str, pending: Option<Document>) {
    let update = match pending {
        Some(pending) => mongodb::bson::doc! { "$set": { "pending": pending } },
        None => mongodb::bson::doc! { "$unset": { "pending": "" } },
    };
    registry(app)
        .update_one(mongodb::bson::doc! { "name": name }, update)
        .await
        .unwrap();
}

/// The tenant database of an app.
pub fn tenant_db(app: &App) -> &Database {
    app.store.databases().1
}

/// A tenant collection.
pub fn tenant_collection(app: &App, place: &Placement) -> Collection<Document> {
    tenant_db(app)
        .client()
        .database(&place.database)
        .collection(&place.collection)
}

/// A registry document of the organization `name` with one owner (whose account is
/// not made), its data placed in `database`.
pub fn sample_org(name: &str, database: &str, since: DateTime) -> OrgDoc {
    let collection = format!("org_{name}");
    let owner = Member {
        verified: false,
        role: Role::Owner,
        ver: 0,
        joined_at: since,
        email: format!("{name}@example.com"),
    };
    OrgDoc {
        id: ObjectId::new(),
        name: name.to_owned(),
        placement: Placement {
            database: database.to_owned(),
            collection: collection.clone(),
        },
        collection_name: collection,
        members: [(member_key(ObjectId::new()), owner)].into(),
        owners: 1,
        version: 0,
        created_at: since,
        updated_at: None,
        pending: None,
        audit_outbox: Vec::new(),
        admin_id: None,
        email: None,
        password_hash: None,
        token_version: None,
        status: tenant::store::OrgStatus::Active,
        suspension: None,
        created_key: String::new(),
        member_count: 1,
        external_id: None,
        metadata: None,
    }
}

/// A registry document as a create leaves it between its steps: [`sample_org`] with
/// `op` in flight since `since`.
pub fn half_made_org(app: &App, name: &str, op: PendingOp, since: DateTime) -> OrgDoc {
    let database = app.store.placement_for("x").database;
    OrgDoc {
        pending: Some(Pending {
            op,
            from: None,
            from_name: None,
            since,
            event: None,
        }),
        ..sample_org(name, &database, since)
    }
}

/// A new member of `org` with `role`, invited by `inviter` (a token of an owner or
/// admin) and accepted with a new account: (email, token, user id).
pub async fn join_as(app: &App, inviter: &str, role: &str) -> (String, String, String) {
    let email = format!("{}@example.com", unique("m"));
    let invite = call(
        app,
        tenant::routes::invitations::create,
        &invite_req(inviter, &email, role),
    )
    .await;
    assert_eq!(invite.status, 201, "{}", invite.text);
    let token = invite.body["token"].as_str().expect("token");
    let accepted = call(
        app,
        tenant::routes::invitations::accept,
        &accept_req(token, PASSWORD),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    (
        email,
        accepted.body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
        accepted.body["admin_id"]
            .as_str()
            .expect("user id")
            .to_owned(),
    )
}

/// A MongoDB-compatible server of a test's own (the local one, started as `make test`
/// starts it), on a free port, with a fresh file: for tests that stop the database, or
/// that need collections no other test shares.
pub struct OwnServer {
    port: u16,
    file: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnServer {
    /// Starts one.
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(unique("own-server-"));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let mut server = Self {
            port,
            file: dir.join("db.sqlite"),
            child: None,
        };
        server.spawn();
        server
    }

    /// Its connection string.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?directConnection=true", self.port)
    }

    /// Starts it again after [`OwnServer::stop`], on the same file and port.
    pub fn spawn(&mut self) {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let f = self.file.display().to_string();
        let child = std::process::Command::new(format!("{root}/.local/venv/bin/python"))
            .args([
                &format!("{root}/scripts/local_mongo.py"),
                "--db",
                &f,
                "-p",
                &self.port.to_string(),
                "--log-file",
                &format!("{f}.log"),
                "--pid-file",
                &format!("{f}.pid"),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the local server (run make test once, which installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("own server did not start");
    }

    /// Stops it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}
