//! Email through SES (SESv2 `SendEmail`, raw content) with the client `aws-config`
//! builds, as the dispatcher sends it on AWS, against a moto server on loopback (no
//! AWS account), and the service's data on a local server of the test's own.
//!
//! Run with `scripts/aws-test.sh`, which starts `moto_server`, sets `MOTO_URL` and runs
//! `cargo test -p tenant --test ses -- --include-ignored`. Without a server the test is
//! ignored, so `cargo test --workspace` stays self-contained.
//!
//! The SDK takes its endpoint, credentials and region from the process environment,
//! which is global: this file holds ONE test, which sets the environment before any
//! other thread runs.

use mongodb::bson::doc;
use serde_json::{Value, json};
use tenant::routes::accounts;
use testkit::{OwnServer, Req, call, dispatch, signup};

const SENDER: &str = "no-reply@ses-test.example.com";

#[test]
#[ignore = "needs a moto server: run scripts/aws-test.sh"]
fn email_goes_out_through_ses_and_an_ses_refusal_is_retried_not_dropped() {
    let moto = std::env::var("MOTO_URL").unwrap_or_else(|_| {
        panic!("MOTO_URL is not set: run scripts/aws-test.sh, which starts moto and sets it")
    });
    let server = OwnServer::start();
    let nowhere = std::env::temp_dir().join("tenant-ses-test-no-aws-files");
    // SAFETY: no other thread of this process runs yet: this is the file's only test and
    // no runtime has been built.
    unsafe {
        for (k, v) in [
            ("AWS_ENDPOINT_URL", moto.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", nowhere.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", nowhere.to_str().unwrap()),
            ("MONGODB_URI", &server.uri()),
        ] {
            std::env::set_var(k, v);
        }
        std::env::remove_var("AWS_PROFILE");
        std::env::remove_var("AWS_SESSION_TOKEN");
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(cases(moto));
}

async fn cases(moto: String) {
    let app = testkit::app_with(&[("EMAIL_FROM", SENDER)]).await;
    let o = signup(&app).await;
    let reset = Req::post("/auth/password-reset", json!({ "email": o.email }));
    assert_eq!(
        call(&app, accounts::request_reset, &reset).await.status,
        202
    );

    // The sender is not a verified identity yet: SES refuses; the job is kept, with
    // the reason, for a later attempt.
    let report = dispatch(&app).await;
    assert_eq!((report.sent, report.failed), (0, 1), "{report:?}");
    let outbox = app
        .store
        .databases()
        .0
        .collection::<mongodb::bson::Document>("mail_outbox");
    let job = outbox
        .find_one(doc! {})
        .await
        .unwrap()
        .expect("the job is kept");
    let error = job.get_str("last_error").unwrap();
    assert!(error.contains("MessageRejected"), "{error}");
    assert!(!error.contains(&o.email) || error.len() < 200);

    // Verified, and the attempt due: it goes out.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .expect("create the identity in moto");
    outbox
        .update_many(doc! {}, doc! { "$set": { "due_ms": 0_i64 } })
        .await
        .unwrap();
    let report = dispatch(&app).await;
    assert_eq!((report.sent, report.failed), (1, 0), "{report:?}");
    assert!(
        outbox.find_one(doc! {}).await.unwrap().is_none(),
        "a sent job is removed"
    );

    // What moto received: from EMAIL_FROM, to the account, both parts, the link.
    let data: Value = reqwest::get(format!("{moto}/moto-api/data.json"))
        .await
        .expect("moto's data")
        .json()
        .await
        .expect("JSON");
    let sent: Vec<&Value> = data["ses"]["RawMessage"]
        .as_array()
        .expect("raw messages")
        .iter()
        .filter(|m| m["raw_data"].as_str().is_some_and(|r| r.contains(&o.email)))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], SENDER);
    let raw = sent[0]["raw_data"].as_str().unwrap();
    assert!(raw.contains(&format!("From: {SENDER}")), "{raw}");
    assert!(raw.contains(&format!("To: {}", o.email)));
    assert!(raw.contains("Subject: Reset your"));
    assert!(raw.contains("Content-Type: multipart/alternative"));
    assert!(raw.contains("Content-Type: text/plain; charset=utf-8"));
    assert!(raw.contains("Content-Type: text/html; charset=utf-8"));
    assert!(raw.contains("#reset="));
}
