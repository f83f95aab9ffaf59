//! The Lambda entry point shared by every function binary.

use std::convert::Infallible;

use lambda_http::{Body, Request, Response, service_fn};
use tracing_subscriber::EnvFilter;

use crate::app::App;

/// A route handler: a plain `async fn(&App, Request) -> Response<Body>`.
pub trait Handler<'a>: Fn(&'a App, Request) -> Self::Future {
    /// The handler's future.
    type Future: Future<Output = Response<Body>> + Send + 'a;
}

impl<'a, F, Fut> Handler<'a> for F
where
    F: Fn(&'a App, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'a,
{
    type Future = Fut;
}

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
pub async fn serve<H>(handler: H) -> Result<(), lambda_http::Error>
where
    H: for<'a> Handler<'a>,
{
    init_tracing();
    let app = match App::init().await {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "refusing to start");
            return Err(err.into());
        }
    };
    let app = &app;
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| {
        let response = handler(app, req);
        async move { Ok::<_, Infallible>(response.await) }
    }))
    .await
}
