//! The Lambda entry point shared by every function binary.

use std::convert::Infallible;

use lambda_http::{LambdaEvent, Request, service_fn};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::http::{Handler, run};

/// mimalloc instead of glibc's malloc in the function processes: a quarter of a warm
/// request's CPU went to glibc's chunk bookkeeping (BENCHMARKS.md).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// JSON logs on stdout; `RUST_LOG` sets the level. The runtime's own debug output,
/// which can include request payloads, is capped so that no body is ever logged.
pub fn init_tracing() {
    init_tracing_to(std::io::stdout);
}

/// The same JSON log setup, writing to `writer` (the benchmarks format every line
/// as in Lambda but write it nowhere).
pub fn init_tracing_to<W>(writer: W)
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("lambda_runtime=info".parse().expect("static directive"))
        .add_directive("lambda_http=info".parse().expect("static directive"))
        .add_directive("hyper=warn".parse().expect("static directive"))
        .add_directive("aws_smithy_runtime=warn".parse().expect("static directive"))
        .add_directive("aws_config=warn".parse().expect("static directive"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .try_init();
}

/// Builds the app once (refusing to start on bad configuration), then serves one
/// handler in the Lambda runtime loop.
pub fn serve<H>(handler: H) -> Result<(), lambda_http::Error>
where
    H: for<'a> Handler<'a> + Sync,
{
    runtime()?.block_on(async {
        init_tracing();
        let app = started(App::init().await)?;
        let (app, handler) = (&app, &handler);
        lambda_http::run(service_fn(move |req: Request| async move {
            Ok::<_, Infallible>(run(app, req, handler).await)
        }))
        .await
    })
}

/// The `migrate` function: builds the store once, then runs [`crate::jobs::migrate::run`] for
/// each invocation and answers its report; (v3) the event `{"import": {...}}` runs
/// [`crate::jobs::import::run`] instead and answers the import's report.
pub fn migrate() -> Result<(), lambda_http::Error> {
    runtime()?.block_on(async {
        init_tracing();
        let config = started(crate::config::Config::load().await)?;
        let app = &App::with_config(config).await?;
        lambda_http::lambda_runtime::run(service_fn(
            move |event: LambdaEvent<serde_json::Value>| async move {
                if let Some(spec) = event.payload.get("import") {
                    let spec: crate::jobs::import::Spec =
                        serde_json::from_value(spec.clone()).map_err(|e| format!("import: {e}"))?;
                    let report = crate::jobs::import::run(app, &spec)
                        .await
                        .map_err(|e| e.chain())?;
                    tracing::info!(
                        dry_run = report.dry_run,
                        imported = report.organizations.imported,
                        skipped = report.organizations.skipped.len(),
                        "import run"
                    );
                    return Ok(serde_json::to_value(report)?);
                }
                let report = crate::jobs::migrate::run(&app.store)
                    .await
                    .map_err(|e| e.chain())?;
                tracing::info!(
                    indexes = report.indexes.len(),
                    organizations = report.migrated,
                    "migrated"
                );
                Ok::<_, lambda_http::Error>(serde_json::to_value(report)?)
            },
        ))
        .await
    })
}

/// The `dispatcher` function (an EventBridge schedule, once a minute): builds the app
/// once, then each invocation sends the mail that is due for `DISPATCH_SECONDS`, or
/// until 5 s before the invocation's deadline, and answers what it did.
pub fn dispatcher() -> Result<(), lambda_http::Error> {
    runtime()?.block_on(async {
        init_tracing();
        let app = &started(App::init().await)?;
        lambda_http::lambda_runtime::run(service_fn(
            move |event: LambdaEvent<serde_json::Value>| async move {
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                // A deadline already passed is none (`cargo lambda watch` sends such):
                // the window alone.
                let deadline = event.context.deadline;
                let left = match deadline > now_ms {
                    true => deadline.saturating_sub(now_ms + 5000),
                    false => u64::MAX,
                };
                let budget = app
                    .config
                    .dispatch_window
                    .min(std::time::Duration::from_millis(left));
                let report = crate::jobs::dispatch::run(app, budget)
                    .await
                    .map_err(|e| e.chain())?;
                tracing::info!(
                    sent = report.sent,
                    skipped = report.skipped,
                    failed = report.failed,
                    "dispatched"
                );
                Ok::<_, lambda_http::Error>(report)
            },
        ))
        .await
    })
}

/// The `purge` function (an EventBridge schedule): builds the app once, then each
/// invocation finishes restores cut short and purges the deleted organizations whose
/// grace period is over ([`crate::jobs::purge::run`]), and answers what it did.
pub fn purge() -> Result<(), lambda_http::Error> {
    runtime()?.block_on(async {
        init_tracing();
        let app = &started(App::init().await)?;
        lambda_http::lambda_runtime::run(service_fn(
            move |_: LambdaEvent<serde_json::Value>| async move {
                let report = crate::jobs::purge::run(&app.store, PURGES_PER_RUN)
                    .await
                    .map_err(|e| e.chain())?;
                tracing::info!(
                    purged = report.purged,
                    restored = report.restored,
                    "purge run"
                );
                Ok::<_, lambda_http::Error>(report)
            },
        ))
        .await
    })
}

/// Most organizations one run of the purge function removes (the next run goes on).
const PURGES_PER_RUN: usize = 50;

/// The async runtime of a function process. An instance serves one request at a
/// time, so one thread runs everything: no cross-thread wake-ups per request (they
/// were half of a warm request's CPU with the multi-thread runtime; BENCHMARKS.md).
/// bcrypt still runs on the blocking pool, so the loop never stalls. The
/// `multi-thread` feature brings back the other flavor, for `make bench`'s comparison.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    #[cfg(not(feature = "multi-thread"))]
    let mut builder = tokio::runtime::Builder::new_current_thread();
    #[cfg(feature = "multi-thread")]
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().build()
}

/// The value of a cold-start step, or the error logged before the process exits.
fn started<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T, E> {
    if let Err(err) = &result {
        tracing::error!(error = %err, "refusing to start");
    }
    result
}
