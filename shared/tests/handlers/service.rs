//! Health, docs, 404, and behaviour when the database is down.

use lambda_http::http::Method;
use tenant::{
    App,
    routes::{docs, fallback, service},
};

use crate::common::*;

#[tokio::test]
async fn health_reports_a_reachable_database() {
    let app = app().await;
    let res = call(&app, service::health, &Req::get("/health")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["status"], "healthy");
    assert_eq!(res.body["database"], "connected");
    assert_eq!(res.body["service"], "organization-service");
    assert_eq!(res.body["version"], env!("CARGO_PKG_VERSION"));
}

/// An app whose MongoDB is a closed port.
async fn app_without_database() -> App {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uri = format!("mongodb://127.0.0.1:{port}/?directConnection=true");
    App::with_config(config(&[
        ("MONGODB_URI", &uri),
        ("MONGODB_TIMEOUT_MS", "300"),
    ]))
    .await
    .unwrap()
}

#[tokio::test]
async fn a_database_that_is_down_gives_503_json_never_500() {
    let app = app_without_database().await;
    let res = call(&app, service::health, &Req::get("/health")).await;
    assert_eq!(res.status, 503);
    assert_eq!(res.body["status"], "unhealthy");
    assert_eq!(res.body["database"], "disconnected");
    let body = create_body(&unique("down"), "down@example.com", PASSWORD);
    let create = create_org(&app, body).await;
    assert_eq!(create.status, 503, "{}", create.text);
    assert!(
        !create.text.contains("127.0.0.1")
            && !create.text.to_lowercase().contains("server selection")
    );
    let get = get_org(&app, "anything").await;
    assert_eq!(get.status, 503);
    let token = {
        let up = crate::common::app().await;
        signup(&up).await.token
    };
    let list = list_items(&app, &token).await;
    assert_eq!(list.status, 503);
}

#[tokio::test]
async fn index_docs_and_unknown_paths() {
    let app = app().await;
    let root = call(&app, docs::docs, &Req::get("/")).await;
    assert_eq!(root.status, 200);
    assert_eq!(root.body["docs"], "/docs");
    assert_eq!(root.body["redoc"], "/redoc");
    let spec = call(&app, docs::docs, &Req::get("/api/v1/openapi.json")).await;
    assert_eq!(spec.status, 200);
    assert!(spec.body["openapi"].as_str().unwrap().starts_with("3."));
    let docs = call(&app, docs::docs, &Req::get("/docs")).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(docs.headers.contains_key("content-security-policy"));
    assert!(
        !docs.text.contains("http://") && !docs.text.contains("https://"),
        "docs page loads something from elsewhere"
    );
    let missing = call(&app, fallback::fallback, &Req::get("/nope")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["detail"], "Not Found");
    assert!(missing.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow() {
    let app = app().await;
    for (method, path, allow) in [
        (Method::GET, "/org/create", "POST"),
        (Method::PATCH, "/org/create", "POST"),
        (Method::PUT, "/api/v1/org/items", "GET, POST"),
        (
            Method::POST,
            "/org/items/0123456789abcdef01234567",
            "GET, DELETE",
        ),
        (Method::DELETE, "/health", "GET"),
    ] {
        let res = call(&app, fallback::fallback, &Req::new(method.clone(), path)).await;
        assert_eq!(res.status, 405, "{method} {path}: {}", res.text);
        assert_eq!(res.body["detail"], "Method Not Allowed");
        assert_eq!(res.headers["allow"], allow, "{method} {path}");
        assert_eq!(res.headers["content-type"], "application/json");
    }
    for path in ["/api/v1/", "/api/v1//"] {
        let index = call(&app, fallback::fallback, &Req::get(path)).await;
        assert_eq!(index.status, 200, "{path}: {}", index.text);
        assert_eq!(index.body["docs"], "/docs");
    }
}

#[tokio::test]
async fn docs_routes_work_behind_a_named_stage() {
    let app = app().await;
    let req = Req::get("/dev/openapi.json").stage("dev");
    let res = call(&app, docs::docs, &req).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body["paths"].is_object());
}

#[tokio::test]
async fn functions_recover_by_themselves_when_the_database_returns() {
    let mut server = OwnServer::start();
    let uri = server.uri();
    let app = App::with_config(config(&[
        ("MONGODB_URI", &uri),
        ("MONGODB_TIMEOUT_MS", "1000"),
    ]))
    .await
    .unwrap();
    let o = signup(&app).await;
    server.stop();
    let down = call(&app, service::health, &Req::get("/health")).await;
    assert_eq!(down.status, 503);
    let list = list_items(&app, &o.token).await;
    assert_eq!(list.status, 503, "{}", list.text);
    server.spawn();
    let mut status = 0;
    for _ in 0..30 {
        status = list_items(&app, &o.token).await.status.as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(status, 200, "the same app (no cold start) did not recover");
    let up = call(&app, service::health, &Req::get("/health")).await;
    assert_eq!(up.status, 200);
    drop(server);
}
