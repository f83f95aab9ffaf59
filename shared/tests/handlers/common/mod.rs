//! Test harness: an [`App`] on the real MongoDB-compatible server named by
//! `MONGODB_URI`, with its own random databases, and typed request helpers.
#![allow(dead_code)]

use std::collections::HashMap;

use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use mongodb::bson::Document;
use mongodb::{Collection, Database};
use serde_json::{Value, json};
use tenant::App;
use tenant::config::Config;
use tenant::store::{OrgDoc, Placement};

/// The JWT secret of test apps.
pub const SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// A password that meets the rules.
pub const PASSWORD: &str = "Passw0rd1";

/// A random lowercase suffix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{:012x}", rand::random::<u64>() >> 16)
}

/// Settings for a fresh app with its own databases; `extra` overrides.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let uri = std::env::var("MONGODB_URI")
        .expect("MONGODB_URI is unset: run the tests with `make test`, which starts the server");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("MONGODB_URI".into(), uri),
        ("JWT_SECRET".into(), SECRET.into()),
        ("BCRYPT_COST".into(), "4".into()),
        ("MASTER_DB".into(), unique("t_master_")),
        ("TENANT_DB".into(), unique("t_tenants_")),
    ]);
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_vars(&vars).expect("test configuration")
}

/// A fresh app.
pub async fn app() -> App {
    App::with_config(config(&[])).await.expect("app")
}

/// A request builder for handler tests.
pub struct Req {
    method: Method,
    path: String,
    body: Option<String>,
    content_type: Option<String>,
    token: Option<String>,
    query: HashMap<String, String>,
    params: HashMap<String, String>,
    ip: String,
}

impl Req {
    /// A request with no body.
    pub fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.into(),
            body: None,
            content_type: None,
            token: None,
            query: HashMap::new(),
            params: HashMap::new(),
            ip: unique("ip-"),
        }
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
    /// DELETE.
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }
    /// A JSON body.
    pub fn json(self, body: Value) -> Self {
        self.raw(&body.to_string(), "application/json")
    }
    /// A raw body with a content type.
    pub fn raw(mut self, body: &str, content_type: &str) -> Self {
        self.body = Some(body.into());
        self.content_type = Some(content_type.into());
        self
    }
    /// A bearer token.
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.into());
        self
    }
    /// A query parameter.
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.insert(k.into(), v.into());
        self
    }
    /// A path parameter.
    pub fn param(mut self, k: &str, v: &str) -> Self {
        self.params.insert(k.into(), v.into());
        self
    }
    /// The client IP API Gateway reports.
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = ip.into();
        self
    }
    /// The lambda_http request.
    pub fn build(self) -> Request {
        let mut b = lambda_http::http::Request::builder()
            .method(self.method)
            .uri(self.path);
        if let Some(ct) = self.content_type {
            b = b.header("content-type", ct);
        }
        if let Some(t) = self.token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        let body = self.body.map(Body::Text).unwrap_or(Body::Empty);
        let mut ctx =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.http.source_ip = Some(self.ip);
        ctx.request_id = Some(unique("req-"));
        b.body(body)
            .expect("request")
            .with_query_string_parameters(self.query)
            .with_path_parameters(self.params)
            .with_request_context(RequestContext::ApiGatewayV2(ctx))
    }
}

/// A response, decoded.
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
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

/// Calls a handler.
#[macro_export]
macro_rules! call {
    ($handler:path, $app:expr, $req:expr) => {
        $crate::common::Res::from($handler($app, $req.build()).await)
    };
}

/// An organization made for a test, with its admin's credentials and token.
pub struct Org {
    pub name: String,
    pub email: String,
    pub id: String,
    pub token: String,
}

/// Creates an organization and logs its admin in.
pub async fn signup(app: &App) -> Org {
    let name = unique("org");
    let email = format!("{name}@example.com");
    let res = call!(
        tenant::org::create,
        app,
        Req::post(
            "/org/create",
            json!({
                "organization_name": name, "email": email, "password": PASSWORD
            })
        )
    );
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.body["id"].as_str().unwrap().to_owned();
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
    let res = call!(
        tenant::admin::login,
        app,
        Req::post(
            "/admin/login",
            json!({
                "email": email, "password": password
            })
        )
    );
    assert_eq!(res.status, 200, "{}", res.text);
    res.body["access_token"].as_str().unwrap().to_owned()
}

/// Adds an item to the organization of `token`; returns its id.
pub async fn add_item(app: &App, token: &str, data: Value) -> String {
    let res = call!(
        tenant::items::create,
        app,
        Req::post("/org/items", data).token(token)
    );
    assert_eq!(res.status, 201, "{}", res.text);
    res.body["id"].as_str().unwrap().to_owned()
}

/// The registry collection of an app, for planting or inspecting documents.
pub fn registry(app: &App) -> Collection<OrgDoc> {
    app.store.databases().0.collection("organizations")
}

/// The tenant database of an app.
pub fn tenant_db(app: &App) -> &Database {
    app.store.databases().1
}

/// A tenant collection.
pub fn tenant_collection(app: &App, place: &Placement) -> Collection<Document> {
    app.store
        .databases()
        .1
        .client()
        .database(&place.database)
        .collection(&place.collection)
}
