//! Lambda function `webhooks_retry`: serves `tenant::routes::webhooks::retry`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::retry)
}
