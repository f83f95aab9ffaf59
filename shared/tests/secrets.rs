//! Secrets from AWS Secrets Manager through `aws-config`, as the functions read them at
//! cold start, against a moto server on loopback (no AWS account).
//!
//! Run with `scripts/aws-test.sh`, which starts `moto_server`, sets `MOTO_URL` and
//! runs `cargo test -p tenant --test secrets -- --include-ignored`. Without a server
//! the test is ignored, so `cargo test --workspace` stays self-contained.
//!
//! The SDK takes its endpoint, credentials and region from the process environment,
//! which is global; the cases need two different endpoints (moto, and a closed port to
//! show that no AWS call is made without a `*_SECRET_ARN`). So this file holds ONE test,
//! which runs its cases in sequence and sets the environment only while no other
//! thread runs: keep it the only test of this file.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_secretsmanager::primitives::Blob;
use secrecy::ExposeSecret;
use tenant::config::{Config, ConfigError};

const MONGODB_URI: &str =
    "mongodb+srv://svc:Pa55-from-secrets-manager@cluster0.example.mongodb.net/?retryWrites=true";
const JWT_SECRET: &str = "jwt-key-from-secrets-manager-Zq8v1Xk3Lr7Tn0Wb5Yc2";
/// Plain values for the run without ARNs: must never be replaced by anything.
const PLAIN_URI: &str = "mongodb://127.0.0.1:27017/?directConnection=true";
const PLAIN_JWT: &str = "plain-environment-jwt-secret-0123456789abcdef";
/// Shorter than `MIN_SECRET_BYTES`.
const WEAK_JWT: &str = "weak-sm-secret-1";

#[test]
#[ignore = "needs a moto server: run scripts/aws-test.sh"]
fn secrets_manager_through_aws_config() {
    let moto = std::env::var("MOTO_URL").unwrap_or_else(|_| {
        panic!(
            "MOTO_URL is not set: this test needs a moto server; \
             run scripts/aws-test.sh, which starts one and sets MOTO_URL"
        )
    });
    let run = unique_run_id();
    let mongo_name = format!("org-service-test/{run}/mongodb-uri");
    let jwt_name = format!("org-service-test/{run}/jwt-secret");

    // Phase 1: the endpoint is a closed port and no *_SECRET_ARN is set.
    // SAFETY: no other thread of this process runs: this is the file's only test (libtest
    // runs nothing beside it) and no runtime has been built yet.
    unsafe {
        set_env(&[
            ("AWS_ENDPOINT_URL", Some(&closed_port_url())),
            ("MONGODB_URI", Some(PLAIN_URI)),
            ("JWT_SECRET", Some(PLAIN_JWT)),
            ("MONGODB_URI_SECRET_ARN", None),
            ("JWT_SECRET_ARN", None),
        ])
    };
    run_phase(no_secret_arn_makes_no_aws_call());

    // Phase 2: moto, with the secrets named in the environment as in Lambda.
    // SAFETY: the phase-1 runtime has been dropped, which joins its worker and blocking
    // threads, so again no other thread runs.
    unsafe {
        set_env(&[
            ("AWS_ENDPOINT_URL", Some(&moto)),
            ("MONGODB_URI", None),
            ("JWT_SECRET", None),
            ("MONGODB_URI_SECRET_ARN", Some(&mongo_name)),
            ("JWT_SECRET_ARN", Some(&jwt_name)),
        ])
    };
    run_phase(reads_secrets_from_moto(mongo_name, jwt_name, run));
}

/// Case group 1: without `*_SECRET_ARN`, `Config::load` takes the plain variables and
/// asks nothing of AWS (the endpoint is a closed port, which would fail any call).
async fn no_secret_arn_makes_no_aws_call() {
    let config = Config::load().await.expect("plain variables, no AWS call");
    assert_eq!(config.mongodb_uri.expose_secret(), PLAIN_URI);
    assert_eq!(config.jwt.key(), PLAIN_JWT.as_bytes());

    // Control: with an ARN, the same endpoint does fail, so the success above means that
    // no call was made.
    let mut vars = plain_vars();
    vars.insert("JWT_SECRET_ARN".into(), "some-secret".into());
    let text = jwt_secret_refused(vars).await;
    assert!(text.contains("Connection refused"), "{text}");
}

/// Case group 2: the secrets are read from Secrets Manager (moto) by name and by ARN.
async fn reads_secrets_from_moto(mongo_name: String, jwt_name: String, run: String) {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let create = async |name: &str, value: &str| -> String {
        let out = sm
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {name} in moto: {e:?}"));
        out.arn().expect("moto returns the ARN").to_owned()
    };
    let mongo_arn = create(&mongo_name, MONGODB_URI).await;
    let jwt_arn = create(&jwt_name, JWT_SECRET).await;

    // Both values by name, through the real entry point (process environment).
    let config = Config::load().await.expect("both secrets read from moto");
    assert_eq!(config.mongodb_uri.expose_secret(), MONGODB_URI);
    assert_eq!(config.jwt.key(), JWT_SECRET.as_bytes());
    assert!(!config.local);

    // Both values by full ARN (what template.yaml passes).
    let mut vars = arn_vars(&mongo_arn, &jwt_arn);
    tenant::config::secrets::resolve(&mut vars)
        .await
        .expect("by ARN");
    assert_eq!(vars["MONGODB_URI"], MONGODB_URI);
    assert_eq!(vars["JWT_SECRET"], JWT_SECRET);
    Config::from_vars(&vars).expect("a strong secret from Secrets Manager");

    // A missing secret: an error naming the variable, echoing no secret value (the
    // MongoDB secret, read first, included).
    let missing = format!("org-service-test/{run}/does-not-exist");
    let text = jwt_secret_refused(arn_vars(&mongo_arn, &missing)).await;
    assert!(text.contains("JWT_SECRET_ARN"), "{text}");
    assert!(text.contains("ResourceNotFoundException"), "{text}");
    // One line from the service, not the raw HTTP response.
    assert!(
        !text.contains("Response {") && !text.contains('\n'),
        "{text}"
    );

    // A binary secret: refused, saying so.
    let binary_name = format!("org-service-test/{run}/binary");
    let binary_arn = sm
        .create_secret()
        .name(&binary_name)
        .secret_binary(Blob::new(JWT_SECRET.as_bytes()))
        .send()
        .await
        .expect("create a binary secret in moto")
        .arn()
        .expect("ARN")
        .to_owned();
    let text = jwt_secret_refused(arn_vars(&mongo_arn, &binary_arn)).await;
    assert!(text.contains("binary"), "{text}");

    // A weak JWT secret in Secrets Manager: read, then refused by Config outside
    // APP_ENV=local (and accepted with it, as for a plain variable).
    let weak_arn = create(&format!("org-service-test/{run}/weak-jwt"), WEAK_JWT).await;
    let mut vars = arn_vars(&mongo_arn, &weak_arn);
    tenant::config::secrets::resolve(&mut vars)
        .await
        .expect("the read succeeds");
    let err = Config::from_vars(&vars).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                name: "JWT_SECRET",
                ..
            }
        ),
        "{text}"
    );
    assert!(!text.contains(WEAK_JWT), "{text}");
    assert_no_secret_in(&text);
    vars.insert("APP_ENV".into(), "local".into());
    assert!(Config::from_vars(&vars).unwrap().local);

    // The console's key/value shape: {"JWT_SECRET": "..."} and {"MONGODB_URI": "..."}.
    let json_jwt = create(
        &format!("org-service-test/{run}/json-jwt"),
        &serde_json::json!({ "JWT_SECRET": JWT_SECRET }).to_string(),
    )
    .await;
    let json_uri = create(
        &format!("org-service-test/{run}/json-uri"),
        &serde_json::json!({ "MONGODB_URI": MONGODB_URI, "note": "extra keys are ignored" })
            .to_string(),
    )
    .await;
    let mut vars = arn_vars(&json_uri, &json_jwt);
    tenant::config::secrets::resolve(&mut vars)
        .await
        .expect("JSON secrets");
    let config = Config::from_vars(&vars).expect("values taken from the JSON objects");
    assert_eq!(config.mongodb_uri.expose_secret(), MONGODB_URI);
    assert_eq!(config.jwt.key(), JWT_SECRET.as_bytes());

    // A JSON object without the expected key: refused, naming the key, not the value.
    let wrong_key = create(
        &format!("org-service-test/{run}/json-wrong-key"),
        &serde_json::json!({ "jwt": JWT_SECRET }).to_string(),
    )
    .await;
    let text = jwt_secret_refused(arn_vars(&mongo_arn, &wrong_key)).await;
    assert!(text.contains("\"JWT_SECRET\""), "{text}");
}

/// Resolves `vars`, which must fail on the JWT secret: an error of `JWT_SECRET_ARN` that
/// shows no secret value. Returns its text.
async fn jwt_secret_refused(mut vars: HashMap<String, String>) -> String {
    let err = tenant::config::secrets::resolve(&mut vars)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.name, "JWT_SECRET_ARN", "{text}");
    assert_no_secret_in(&text);
    text
}

/// Sets (`Some`) or removes (`None`) variables, plus the fixed AWS settings of the test:
/// dummy credentials, a region, and nothing from the caller's AWS profile or files.
///
/// # Safety
/// No other thread may run (and so read the environment) during the call.
unsafe fn set_env(pairs: &[(&str, Option<&str>)]) {
    let nowhere = std::env::temp_dir().join("tenant-secrets-test-no-aws-files");
    let fixed: [(&str, Option<&str>); 13] = [
        ("AWS_ACCESS_KEY_ID", Some("testing")),
        ("AWS_SECRET_ACCESS_KEY", Some("testing")),
        ("AWS_REGION", Some("us-east-1")),
        ("AWS_EC2_METADATA_DISABLED", Some("true")),
        ("AWS_CONFIG_FILE", nowhere.to_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", nowhere.to_str()),
        ("AWS_SESSION_TOKEN", None),
        ("AWS_PROFILE", None),
        ("AWS_DEFAULT_REGION", None),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", None),
        ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", None),
        ("APP_ENV", None),
        ("AWS_USE_FIPS_ENDPOINT", None),
    ];
    for (key, value) in fixed.iter().chain(pairs) {
        // SAFETY: the caller guarantees that no other thread runs.
        unsafe {
            match value {
                Some(v) => std::env::set_var(key, v),
                None => std::env::remove_var(key),
            }
        }
    }
}

/// Runs one group of cases on its own runtime, which is dropped (its threads joined)
/// before returning, with a bound so that a stuck server fails the test.
fn run_phase(cases: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(120), cases)
            .await
            .expect("the cases finish within 120 s");
    });
    drop(runtime);
}

fn plain_vars() -> HashMap<String, String> {
    HashMap::from([
        ("MONGODB_URI".into(), PLAIN_URI.into()),
        ("JWT_SECRET".into(), PLAIN_JWT.into()),
    ])
}

fn arn_vars(mongo: &str, jwt: &str) -> HashMap<String, String> {
    HashMap::from([
        ("MONGODB_URI_SECRET_ARN".into(), mongo.into()),
        ("JWT_SECRET_ARN".into(), jwt.into()),
    ])
}

fn assert_no_secret_in(text: &str) {
    for secret in [
        MONGODB_URI,
        "Pa55-from-secrets-manager",
        JWT_SECRET,
        WEAK_JWT,
    ] {
        assert!(!text.contains(secret), "the error shows a secret: {text}");
    }
}

/// A loopback URL where nothing listens (a port just bound and released).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Distinct secret names per run, so that reruns against one moto server do not clash.
fn unique_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}
