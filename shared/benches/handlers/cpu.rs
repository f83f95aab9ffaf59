//! Handlers against the real server, in CPU time of this process.

use cpu_time::ProcessTime;
use criterion::Criterion;
use serde_json::json;
use tenant::http::Handler;
use tenant::{
    App,
    routes::{items, organizations, service},
};
use testkit::{Req, add_item, app, call, signup};
use tokio::runtime::Runtime;

/// Benchmarks `handler` serving `req`: CPU time per call, over `iters` calls.
fn cpu_of<H>(c: &mut Criterion, rt: &Runtime, app: &App, name: &str, handler: H, req: Req)
where
    H: for<'a> Handler<'a> + Sync + Copy,
{
    c.bench_function(&format!("cpu/{name}"), |b| {
        b.iter_custom(|iters| {
            let start = ProcessTime::now();
            for _ in 0..iters {
                rt.block_on(call(app, handler, &req));
            }
            start.elapsed()
        })
    });
}

/// Benchmarks of handlers that do not hash a password (skipped without `MONGODB_URI`).
pub fn bench(c: &mut Criterion) {
    if std::env::var("MONGODB_URI").is_err() {
        eprintln!("cpu/*: MONGODB_URI is unset; skipped");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (app, org, token, item) = rt.block_on(async {
        let app = app().await;
        let o = signup(&app).await;
        let mut item = String::new();
        for n in 0..20 {
            item = add_item(&app, &o.token, json!({ "n": n, "name": "widget" })).await;
        }
        (app, o.name, o.token, item)
    });
    cpu_of(c, &rt, &app, "health", service::health, Req::get("/health"));
    let get = Req::get("/org/get").query("organization_name", &org);
    cpu_of(c, &rt, &app, "org_get", organizations::get, get);
    let one = Req::get("/org/items/x").param("id", &item).token(&token);
    cpu_of(c, &rt, &app, "items_get", items::get, one);
    let page = Req::get("/org/items").token(&token);
    cpu_of(c, &rt, &app, "items_list (20)", items::list, page);
}
