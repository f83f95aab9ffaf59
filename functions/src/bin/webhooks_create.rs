//! Lambda function `webhooks_create`: serves `tenant::routes::webhooks::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::webhooks::create)
}
