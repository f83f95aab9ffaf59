//! The per-request work that needs no database.

use std::hint::black_box;

use criterion::Criterion;
use serde_json::json;
use tenant::auth::jwt;
use tenant::config::Config;
use tenant::http::JsonBody;
use tenant::routes::items::check_numbers;
use tenant::routes::organizations::NewOrganization;
use testkit::{PASSWORD, Req, SECRET, create_body};

fn config() -> Config {
    let vars = [
        ("MONGODB_URI", "mongodb://127.0.0.1:1"),
        ("JWT_SECRET", SECRET),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::from_vars(&vars).expect("config")
}

/// Benchmarks of the request path's pure parts.
pub fn bench(c: &mut Criterion) {
    let config = config();
    let create = Req::post(
        "/org/create",
        create_body("acme-corp", "admin@acme.com", PASSWORD),
    );
    let event = create.event().to_string();
    c.bench_function("request/event", |b| {
        b.iter(|| lambda_http::request::from_str(black_box(&event)).expect("event"))
    });
    let request = create.build();
    c.bench_function("request/create body", |b| {
        b.iter(|| {
            NewOrganization::try_from(JsonBody::parse(black_box(&request)).expect("json")).is_ok()
        })
    });
    let item = json!({ "name": "widget", "qty": 3, "dims": { "w": 1.5, "h": 2 } }).to_string();
    c.bench_function("request/item numbers", |b| {
        b.iter(|| check_numbers(black_box(item.as_bytes())).is_ok())
    });
    let org = testkit::sample_org("acme-corp", "org_tenants", mongodb::bson::DateTime::now());
    let (user, member) = org
        .member_list()
        .next()
        .map(|(u, m)| (u, m.clone()))
        .expect("owner");
    let token = jwt::issue(&config.jwt, &org, user, &member).expect("token");
    c.bench_function("request/jwt verify", |b| {
        b.iter(|| jwt::verify(&config.jwt, black_box(&token)).is_ok())
    });
    c.bench_function("request/bcrypt verify (cost 12)", |b| {
        let hash = bcrypt::hash(PASSWORD, 12).expect("hash");
        b.iter(|| bcrypt::verify(black_box(PASSWORD), &hash))
    });
}
