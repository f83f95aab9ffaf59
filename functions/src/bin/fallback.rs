//! Lambda function `fallback`: serves `tenant::routes::fallback::fallback` (API Gateway's
//! `$default` route: 405 for a known path's other methods, else 404).

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::fallback::fallback)
}
