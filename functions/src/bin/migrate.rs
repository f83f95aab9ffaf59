//! Lambda function `migrate`: the deploy-time step, `tenant::jobs::migrate::run` (indexes),
//! invoked once after each deploy; it has no route.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::migrate()
}
